"""SFU benchmark: what forwarding one publisher to N subscribers costs the edge, against aiortc's
MediaRelay (decode once, re-encode per subscriber) measured in the same run.

One publisher sends 640×480@30 VP8 (pinned at 1 Mb/s) and Opus over loopback, replaying a clip
encoded once (``bench/clip.py``); N subscribers run in worker processes (the first three decode
and count frames, the rest count RTP packets and complete frames from the RTP headers, reading
their sockets in batches: ``bench/drain.py``), so the load generators take little of the machine
from the server they measure; the server — ``edge.sfu.room.Room`` (``forward``) or ``MediaRelay``
(``relay``) — runs alone in its own process (``bench/sfu_server.py``) and its CPU (user + sys,
all threads) is read from /proc over fixed windows. Each N is measured over several windows and
the median is reported. The relay baseline stops at the first N where it saturates (the worst
subscriber below 80 % of 30 fps).

    .venv/bin/python bench/sfu.py [--quick] [--out bench/results/sfu.json]

Prints JSON. ``cpu_per_stream_*`` are slopes of a least-squares line through (N, edge CPU %);
``ratio`` = relay / forward; ``streams_per_core`` = 100 / the forward slope.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import clip  # noqa: E402
from bench.common import BITRATE, Proc, arguments, cpu_seconds, emit, log, machine, machine_busy  # noqa: E402

DECODING = 3  # subscribers that decode (each in its own process)
PER_WORKER = 8  # counting subscribers per worker process
SATURATED_FPS = 0.8 * 30
JOIN_GAP = 0.5  # seconds between one subscriber's first frame and the next join (the keyframe interval)


class Control:
    """The controller's own connection to the server, for stats."""

    def __init__(self, path: str) -> None:
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rw")

    def stats(self) -> dict[str, Any]:
        self.f.write(json.dumps({"op": "stats", "id": 1}) + "\n")
        self.f.flush()
        return json.loads(self.f.readline())


def fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares (slope, intercept) of CPU % against N."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx


def floor_us(packets: int = 20000, live: bool = False) -> float:
    """The floor of forwarding one packet in Python: SRTP-protect a 1,100-byte RTP packet and
    ``sendto`` it over loopback, in one plain loop (no event loop, no rewriting) — CPU µs a packet.
    With *live*, another process reads the receiving socket meanwhile, as a subscriber does: over
    loopback the kernel then also queues each packet to a reader and wakes it, in the sender's time."""
    import struct

    from pylibsrtp import Policy, Session

    session = Session(policy=Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    reader = 0
    if live:
        reader = os.fork()
        if reader == 0:  # the reading process: drain until the end marker
            while sink.recv(2048) != b"end":
                pass
            os._exit(0)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packet = bytearray(1100)
    payload = os.urandom(1100 - 12)
    packet[12:] = payload
    try:
        started = time.process_time()
        for i in range(packets):
            struct.pack_into("!BBHII", packet, 0, 0x80, 96, i & 0xFFFF, i * 3000, 0x1234)
            try:
                out.sendto(session.protect(bytes(packet)), sink.getsockname())
            except BlockingIOError:
                pass
        return (time.process_time() - started) / packets * 1e6
    finally:
        if reader:
            out.sendto(b"end", sink.getsockname())
            os.waitpid(reader, 0)
        sink.close()
        out.close()


def floor_paced_us(subscribers: int = 96, seconds: float = 3.0, gap: float = 0.006) -> float:
    """:func:`floor_us`'s work (SRTP-protect a 1,100-byte packet, ``sendto`` it) done the way an
    edge must do it: one packet for each of *subscribers* subscribers, each with its own SRTP
    session, its own sending socket (an event loop's datagram transport) and its own receiving
    socket, read by another process every 50 ms as the counting subscribers read theirs, and a
    burst every *gap* seconds as the media arrives (about the packet rate of the largest N
    measured) — CPU µs a packet. The difference to ``floor_us`` is what spreading the same work
    over many sockets and sessions, and pausing between packets, costs on this machine."""
    import asyncio
    import struct

    import uvloop
    from pylibsrtp import Policy, Session

    sinks = []
    for _ in range(subscribers):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        sinks.append(sink)
    addrs = [s.getsockname() for s in sinks]
    reader = os.fork()
    if reader == 0:  # the reading process: every 50 ms, whatever queued
        buf = bytearray(2048)
        while True:
            time.sleep(0.05)
            for sink in sinks:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        sink.recv_into(buf)
    for sink in sinks:
        sink.close()

    async def run() -> float:
        loop = asyncio.get_running_loop()
        sends = []
        for _ in range(subscribers):
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            sends.append(transport.sendto)
        sessions = [Session(policy=Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
                    for _ in range(subscribers)]
        packet = bytearray(1100)
        packet[12:] = os.urandom(1100 - 12)
        i = sent = 0
        started, end = time.process_time(), time.monotonic() + seconds
        while time.monotonic() < end:
            i += 1
            struct.pack_into("!BBHII", packet, 0, 0x80, 96, i & 0xFFFF, i * 3000, 0x1234)
            data = bytes(packet)
            for send, session, addr in zip(sends, sessions, addrs):
                send(session.protect(data), addr)
            sent += subscribers
            await asyncio.sleep(gap)
        return (time.process_time() - started) / sent * 1e6

    try:
        return uvloop.run(run())
    finally:
        os.kill(reader, signal.SIGKILL)
        os.waitpid(reader, 0)


def path_us(subscribers: int = 32, packets: int = 3000) -> float:
    """The edge's own forwarding path alone, in this process: a VP8 ``TrackSource`` fanning 1,100-
    byte packets out to *subscribers* ``DownTrack``/``Egress`` pairs that rewrite, SRTP-protect and
    ``sendto`` each one (on an event loop's datagram transports) to a socket nobody reads, as
    :func:`floor_us` does — CPU µs per forwarded packet. Set against ``floor_us`` it shows what the
    code between a packet arriving and its copies leaving costs beyond protect + sendto."""
    import asyncio

    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from pylibsrtp import Policy, Session

    from edge.sfu.aiortc_hooks import SendPath, srtp_protector
    from edge.sfu.downtrack import DownTrack
    from edge.sfu.egress import Egress
    from edge.sfu.forwarder import TrackSource
    from edge.sfu.interfaces import TrackInfo

    class Origin:
        def request_keyframe(self) -> None:
            pass

    async def run() -> float:
        loop = asyncio.get_running_loop()
        codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        src = TrackSource(TrackInfo("TR_1", "bench", "video", "camera", codec.name), codec, keyframe_min_interval=0.0)
        src.attach(Origin())
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        transports = []
        for i in range(subscribers):
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            transports.append(transport)
            session = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
            egress = Egress(64)
            egress.open(SendPath(protect=srtp_protector(session), sendto=transport.sendto, addr=sink.getsockname(),
                                 backlog=transport.get_write_buffer_size))
            dt = DownTrack(src, egress)
            dt.configure(ssrc=1000 + i, payload_type=100, mid="1", mid_ext=1, level_ext=None)
            egress.downtracks.append(dt)
            src.add(dt)
        key, delta = b"\x90\x80\x01\x00" + os.urandom(1084), b"\x90\x80\x02\x01" + os.urandom(1084)
        src.push(seq=0, ts=0, marker=1, payload=key, level=-1)
        before = sum(dt.packets for dt in src.fanout)
        started = time.process_time()
        for i in range(1, packets + 1):
            src.push(seq=i, ts=3000 * (i // 3), marker=int(i % 3 == 2), payload=delta, level=-1)
            if i % 50 == 0:
                await asyncio.sleep(0)
        spent = time.process_time() - started
        sent = sum(dt.packets for dt in src.fanout) - before
        for t in transports:
            t.close()
        sink.close()
        return spent / sent * 1e6

    import uvloop

    return uvloop.run(run())


class Run:
    def __init__(self, mode: str, tmp: str, window: float, repeats: int, settle: float, clip: str) -> None:
        self.mode, self.window, self.repeats, self.settle = mode, window, repeats, settle
        self.path = os.path.join(tmp, f"{mode}.sock")
        self.server = Proc("bench/sfu_server.py", "--mode", mode, "--socket", self.path)
        self.pid = self.server.read()["ready"]
        self.control = Control(self.path)
        self.publisher = Proc("bench/sfu_client.py", "--role", "publisher", "--socket", self.path, "--clip", clip)
        self.publisher.read()
        self.workers: list[tuple[Proc, bool, list[str]]] = []
        self.subs = 0
        if mode == "forward":
            deadline = time.monotonic() + 20
            while self.control.stats().get("packets_received", 0) < 100 and time.monotonic() < deadline:
                time.sleep(0.2)
        time.sleep(1.0)

    def grow(self, n: int) -> list[str]:
        """Add subscribers up to *n*, one at a time: each joins once the previous one has video and
        JOIN_GAP has passed (so every join gets its own keyframe request); returns the new ones."""
        new = []
        while self.subs < n:
            if new:
                self.wait_for_video(new[-1:])
                time.sleep(JOIN_GAP)
            pid = f"sub{self.subs}"
            decode = self.subs < DECODING
            worker = next((w for w in self.workers if not w[1] and not decode and len(w[2]) < PER_WORKER), None)
            if worker is None:
                worker = (Proc("bench/sfu_client.py", "--role", "subscribers", "--socket", self.path), decode, [])
                self.workers.append(worker)
            worker[0].ask({"cmd": "join", "pids": [pid], "decode": decode})
            worker[2].append(pid)
            new.append(pid)
            self.subs += 1
        return new

    def counters(self) -> dict[str, tuple[float, dict[str, Any]]]:
        out = {}
        for proc, _, _ in self.workers:
            reply = proc.ask({"cmd": "counters"})
            out.update({pid: (reply["t"], c) for pid, c in reply["subs"].items()})
        return out

    def wait_for_video(self, pids: list[str], timeout: float = 20) -> dict[str, tuple[float, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while True:
            c = self.counters()
            if all(c[pid][1]["first_frame_ms"] is not None for pid in pids) or time.monotonic() > deadline:
                return c
            time.sleep(0.05)

    def measure(self, n: int) -> dict[str, Any]:
        new = self.grow(n)
        c = self.wait_for_video(new)
        joins = [c[pid][1]["first_frame_ms"] for pid in new if c[pid][1]["first_frame_ms"] is not None]
        time.sleep(self.settle)
        windows = []
        clients = [self.publisher.pid] + [proc.pid for proc, _, _ in self.workers]
        for _ in range(self.repeats):
            c0, cpu0, m0, s0, t0 = self.counters(), cpu_seconds(self.pid), machine_busy(), self.control.stats(), time.monotonic()
            k0 = sum(cpu_seconds(pid) for pid in clients)
            time.sleep(self.window)
            c1, cpu1, m1, s1, t1 = self.counters(), cpu_seconds(self.pid), machine_busy(), self.control.stats(), time.monotonic()
            k1 = sum(cpu_seconds(pid) for pid in clients)
            fps = {pid: (c1[pid][1]["video_frames"] - c0[pid][1]["video_frames"]) / (c1[pid][0] - c0[pid][0]) for pid in c1}
            counted = [pid for pid in c1 if not c1[pid][1]["decode"]]
            windows.append({
                "edge_cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
                "fps_min": min(fps.values()),
                "decoded_fps_min": min(fps[p] for p in c1 if c1[p][1]["decode"]),
                "machine_busy_pct": 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
                "clients_cpu_pct": 100 * (k1 - k0) / (t1 - t0),
                "pps_per_subscriber": (statistics.fmean((c1[p][1]["packets"] - c0[p][1]["packets"]) / (c1[p][0] - c0[p][0])
                                                        for p in counted) if counted else None),
                "forwarded_pps": ((s1["packets_forwarded"] - s0["packets_forwarded"]) / (t1 - t0)
                                  if "packets_forwarded" in s1 else None),
            })
        cpu = [w["edge_cpu_pct"] for w in windows]
        result = {
            "edge_cpu_pct": round(statistics.median(cpu), 2),
            "edge_cpu_pct_windows": [round(x, 2) for x in cpu],
            "sub_video_fps_min": round(statistics.median(w["fps_min"] for w in windows), 1),
            "decoded_video_fps_min": round(statistics.median(w["decoded_fps_min"] for w in windows), 1),
            "join_to_first_frame_ms_p50": round(statistics.median(joins), 1) if joins else None,
            "joined": len(new), "joined_with_video": len(joins),
            "machine_busy_pct": round(statistics.median(w["machine_busy_pct"] for w in windows), 1),
            "bench_clients_cpu_pct": round(statistics.median(w["clients_cpu_pct"] for w in windows), 1),
        }
        # what the rest of the machine (other processes) used, in % of one core
        result["others_cpu_pct"] = round(max(0.0, result["machine_busy_pct"] * (os.cpu_count() or 1)
                                             - result["edge_cpu_pct"] - result["bench_clients_cpu_pct"]), 1)
        if windows[0]["forwarded_pps"] is not None:
            result["forwarded_pps"] = round(statistics.median(w["forwarded_pps"] for w in windows))
        if windows[0]["pps_per_subscriber"] is not None:
            result["received_pps_per_counting_subscriber"] = round(statistics.median(w["pps_per_subscriber"] for w in windows), 1)
        result["saturated"] = result["sub_video_fps_min"] < SATURATED_FPS
        return result

    def stop(self) -> None:
        for proc, _, _ in self.workers:
            proc.stop(quit={"cmd": "quit"})
        self.publisher.stop()
        self.server.stop()


def sweep(mode: str, ns: list[int], tmp: str, args: argparse.Namespace) -> tuple[dict[str, Any], dict | None]:
    run = Run(mode, tmp, args.window, args.repeats, args.settle, args.clip)
    results: dict[str, Any] = {}
    stopped = None
    try:
        for n in ns:
            results[str(n)] = r = run.measure(n)
            log(f"{mode} N={n}: cpu {r['edge_cpu_pct']}% fps_min {r['sub_video_fps_min']} "
                f"join p50 {r['join_to_first_frame_ms_p50']} ms, machine {r['machine_busy_pct']}%")
            if mode == "relay" and r["saturated"]:
                stopped = {"n": n, "reason": f"worst subscriber at {r['sub_video_fps_min']} fps (< {SATURATED_FPS:.0f})"}
                break
    finally:
        run.stop()
    return results, stopped


def main() -> None:
    parser = arguments(__doc__, quick="a smoke run: N ≤ 2, short windows")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per measurement window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per N (the median is reported)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between joining and measuring")
    args = parser.parse_args()
    forward_ns, relay_ns = [1, 2, 4, 8, 16, 32, 48, 64, 96], [1, 2, 4, 8]
    if args.quick:
        forward_ns, relay_ns, args.window, args.repeats, args.settle = [1, 2], [1], 1.5, 1, 0.5

    started = time.monotonic()
    out: dict[str, Any] = {"benchmark": "sfu", "machine": machine(), "config": {
        "video": f"640x480@30 VP8 pinned at {BITRATE // 1000} kb/s, a pre-encoded clip replayed (bench/clip.py)",
        "audio": "Opus, 20 ms, replayed", "window_s": args.window,
        "repeats": args.repeats, "settle_s": args.settle, "decoding_subscribers": DECODING,
        "counting_subscribers_per_process": PER_WORKER, "quick": args.quick,
        "joins": f"one at a time, {JOIN_GAP} s after the previous subscriber's first video frame"}}
    tmp = tempfile.mkdtemp(prefix="sfu-bench-")
    args.clip = os.path.join(tmp, "clip.msgpack")
    clip.make(Path(args.clip))
    try:
        out["forward"], _ = sweep("forward", forward_ns, tmp, args)
        # the same forwarding with bandwidth adaptation switched off ([sfu] adaptation = false)
        out["forward_without_adaptation"], _ = sweep("forward-fixed", forward_ns, tmp, args)
        out["relay"], out["relay_stopped_at"] = sweep("relay", relay_ns, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # points where the media degraded (the machine, not only the server, ran out of CPU) are not fitted
    forward_points = [(int(n), r["edge_cpu_pct"]) for n, r in out["forward"].items() if not r["saturated"]]
    forward = fit(forward_points)
    relay_points = [(int(n), r["edge_cpu_pct"]) for n, r in out["relay"].items() if not r["saturated"]]
    relay = fit(relay_points)
    out["fitted_n"] = {"forward": [n for n, _ in forward_points], "relay": [n for n, _ in relay_points]}
    per_forward = forward[0] if forward else None
    per_relay = relay[0] if relay else (relay_points[0][1] / relay_points[0][0] if relay_points else None)
    out["cpu_per_stream_forward"] = round(per_forward, 3) if per_forward else None
    out["cpu_per_stream_relay"] = round(per_relay, 3) if per_relay else None
    out["ratio"] = round(per_relay / per_forward, 1) if per_forward and per_relay and per_forward > 0 else None
    out["streams_per_core"] = round(100 / per_forward) if per_forward and per_forward > 0 else None
    pps = [r.get("forwarded_pps", 0) / int(n) for n, r in out["forward"].items() if not r["saturated"]]
    if per_forward and pps:
        out["us_per_forwarded_packet"] = round(per_forward / 100 * 1e6 / statistics.median(pps), 1)
    out["floor_us"] = round(statistics.median(floor_us() for _ in range(5)), 2)
    out["floor_live_us"] = round(statistics.median(floor_us(live=True) for _ in range(5)), 2)
    out["path_us"] = round(statistics.median(path_us() for _ in range(5)), 2)
    out["path_ratio"] = round(out["path_us"] / out["floor_us"], 2)
    out["floor_paced_us"] = round(statistics.median(floor_paced_us(seconds=0.5 if args.quick else 3.0)
                                                    for _ in range(1 if args.quick else 3)), 2)
    if out.get("us_per_forwarded_packet"):
        out["floor_ratio"] = round(out["us_per_forwarded_packet"] / out["floor_us"], 2)
        out["live_floor_ratio"] = round(out["us_per_forwarded_packet"] / out["floor_live_us"], 2)
        out["paced_floor_ratio"] = round(out["us_per_forwarded_packet"] / out["floor_paced_us"], 2)
    out["forward_fit_intercept_pct"] = round(forward[1], 2) if forward else None
    fixed = fit([(int(n), r["edge_cpu_pct"]) for n, r in out["forward_without_adaptation"].items() if not r["saturated"]])
    out["cpu_per_stream_forward_without_adaptation"] = round(fixed[0], 3) if fixed else None
    # (a smoke run's two points can give a flat or falling line: no ratio then)
    out["adaptation_cost_pct"] = (round(100 * (per_forward / fixed[0] - 1), 1)
                                  if fixed and per_forward and fixed[0] > 0 and per_forward > 0 else None)
    out["definitions"] = {
        "edge_cpu_pct": "server process user+sys CPU, % of one core, median over the windows",
        "cpu_per_stream_*": "slope of the least-squares line through (N, edge_cpu_pct) over fitted_n "
                            "(N where the worst subscriber kept >= 24 fps); relay with one such N: its CPU / N",
        "saturated": "the worst subscriber's video fell below 24 fps during the windows",
        "streams_per_core": "100 / cpu_per_stream_forward: subscriber A/V streams one core forwards",
        "us_per_forwarded_packet": "cpu_per_stream_forward as CPU µs per packet, over the median packets per "
                                   "second one subscriber stream carries",
        "floor_us": "CPU µs to SRTP-protect a 1,100-byte RTP packet and sendto it over loopback in one plain "
                    "Python loop (median of 5 runs of 20,000): the floor of forwarding in Python",
        "floor_ratio": "us_per_forwarded_packet / floor_us",
        "floor_live_us": "floor_us with another process reading the receiving socket meanwhile, as a subscriber "
                         "does (over loopback the sender's CPU then also pays for queueing each packet to a live "
                         "reader and waking it)",
        "live_floor_ratio": "us_per_forwarded_packet / floor_live_us",
        "floor_paced_us": "floor_us's work (protect + sendto of a 1,100-byte packet) done as forwarding does it: 96 "
                          "SRTP sessions, 96 sending datagram transports, 96 receiving sockets read by another "
                          "process every 50 ms, one packet to each every 6 ms (median of 3 runs of 3 s)",
        "paced_floor_ratio": "us_per_forwarded_packet / floor_paced_us",
        "path_us": "CPU µs per forwarded packet of the edge's forwarding path alone (TrackSource → DownTrack → "
                   "Egress → SRTP → sendto, 32 subscribers, to a socket nobody reads, as floor_us), in one process "
                   "(median of 5 runs of 3,000 packets)",
        "path_ratio": "path_us / floor_us: the forwarding code beyond protect + sendto; the rest of floor_ratio is "
                      "what the running edge pays besides (the kernel delivering each packet to a live subscriber's "
                      "socket and waking it, receiving, RTCP, the event loop)",
        "adaptation_cost_pct": "cpu_per_stream_forward (bandwidth adaptation on, the default) over "
                               "cpu_per_stream_forward_without_adaptation (forward_without_adaptation: [sfu] "
                               "adaptation = false), measured in the same run, minus 1, in %",
        "sub_video_fps_min": "worst subscriber's video frames per second (decoded, or complete frames counted)",
        "join_to_first_frame_ms_p50": "median, over the subscribers added at that N, of join request → first video frame",
        "machine_busy_pct": "all cores of the machine during the windows (benchmark processes included), % of all cores",
        "bench_clients_cpu_pct": "the publisher and subscriber processes, % of one core",
        "others_cpu_pct": "everything else running on the machine meanwhile, % of one core",
    }
    out["duration_s"] = round(time.monotonic() - started, 1)
    emit(out, args.out)


if __name__ == "__main__":
    main()
