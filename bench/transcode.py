"""Transcoding and recording benchmark: what the media services cost, next to forwarding.

**Bridge.** One publisher sends 640×480@30 VP8 (pinned at 1 Mb/s) into an
``edge.sfu.room.Room`` in this process; N = 1, 4, 16 subscribers that decode only H.264 join
(counting packets and frames, not decoding), so the room opens one transcoding bridge
(``edge/sfu/bridge.py``). The baseline, in the same run: the same N subscribers receiving VP8
(no bridge). ``bridge_cpu_pct`` is what this process's CPU (all threads: the codecs run their
own) grows by with the bridge, as % of one core, median of several windows; ``bridge_fps`` what
the bridge encoded; ``bridge_cpu_ratio_16_vs_1`` must stay near 1: the bridge decodes once and
encodes once however many subscribers it has.

**Recording.** Four publishers (each Opus and 640×480@30 VP8 at 1 Mb/s) into the forwarding
server of ``bench/sfu.py`` (``bench/sfu_server.py``, its own process). In the same run, each as
% of one core:

* ``forwarding_cpu_pct``: the server's CPU while it receives the eight streams and forwards them
  to one subscriber — the same streams in, the same work per stream as the recorder has, but
  sent on instead of written;
* ``forwarding_marginal_cpu_pct``: what the server's CPU grows by with that one subscriber (the
  sending alone; ``server_base_cpu_pct`` is the receiving, with no subscriber);
* ``receiving_cpu_pct``: what the subscriber's process spends receiving the eight streams (aiortc,
  no decoding, nothing written);
* ``recording_cpu_pct``: what the recorder's media core spends receiving all of them and writing
  them to files (``recorder/``: no decoding, no encoding), in its own process.

``recording_vs_forwarding`` = recording / forwarding; ``recording_vs_forwarding_marginal`` and
``recording_vs_receiving`` compare with the other two.

    .venv/bin/python bench/transcode.py [--quick] [--out bench/results/transcode.json]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Proc, Subscriber, arguments, cpu_seconds, emit, log, machine, publishing_pc  # noqa: E402
from edge.sfu.interfaces import Grants, SfuConfig, TrackInfo  # noqa: E402
from edge.sfu.keyframes import keyframe_detector  # noqa: E402
from edge.sfu.room import Room  # noqa: E402

H264_ONLY = Grants(video_codecs=frozenset({"h264"}))
PUBLISHER = Grants(publish=frozenset({"microphone", "camera"}))


# --- the bridge ------------------------------------------------------------------------------------
class Events:
    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}
        self.room: Room | None = None

    def on_subscriber_offer(self, pid: str, sdp: str) -> None:
        sub = self.subscribers.get(pid)
        if sub is not None:
            asyncio.ensure_future(self._answer(pid, sub, sdp))

    async def _answer(self, pid: str, sub: Subscriber, sdp: str) -> None:
        assert self.room is not None
        await self.room.subscriber_answer(pid, await sub.answer(sdp))

    def on_track_published(self, track: TrackInfo) -> None: ...
    def on_track_unpublished(self, track: TrackInfo) -> None: ...
    def on_active_speaker(self, pid: str | None) -> None: ...
    def on_peer_state(self, pid: str, pc: str, state: str) -> None: ...


async def room_cpu(n: int, grants: Grants, windows: int, window: float, settle: float) -> dict[str, Any]:
    """A VP8 publisher and *n* subscribers with *grants* in a room in this process: the process's
    CPU (median of *windows*), the bridge's figures and the slowest subscriber's frame rate."""
    from aiortc import RTCSessionDescription

    events = Events()
    received = "h264" if "h264" in grants.video_codecs else "vp8"   # the publisher sends VP8
    room = events.room = Room("bench", events, SfuConfig(adaptation=False))
    await room.add_peer("publisher", PUBLISHER)
    conn, mids = await publishing_pc()
    answer = await room.publisher_offer("publisher", conn.localDescription.sdp, mids)
    await conn.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    for i in range(n):
        events.subscribers[f"s{i}"] = Subscriber(decode=False, keyframe=keyframe_detector(received))
        await room.add_peer(f"s{i}", grants)
    deadline = time.monotonic() + 60
    while not all(s.video_frames >= 30 for s in events.subscribers.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"N={n}: subscribers got {[s.video_frames for s in events.subscribers.values()]} frames")
        await asyncio.sleep(0.2)
    await asyncio.sleep(settle)
    bridge = next(iter(room.bridges.values()), None)
    out0, t0 = (bridge.frames_out if bridge else 0), time.monotonic()
    frames0 = [s.video_frames for s in events.subscribers.values()]
    samples = []
    for _ in range(windows):
        c0, w0 = cpu_seconds(os.getpid()), time.monotonic()
        await asyncio.sleep(window)
        samples.append((cpu_seconds(os.getpid()) - c0) / (time.monotonic() - w0) * 100)
    elapsed = time.monotonic() - t0
    result = {"cpu_pct": round(statistics.median(samples), 1), "bridges": len(room.bridges),
              "min_subscriber_fps": round(min((s.video_frames - f0) / elapsed for s, f0 in
                                              zip(events.subscribers.values(), frames0, strict=True)), 1)}
    if bridge is not None:
        result.update(bridge_fps=round((bridge.frames_out - out0) / elapsed, 1), dropped=bridge.dropped)
    await room.close()
    await conn.close()
    for s in events.subscribers.values():
        await s.pc.close()
    return result


async def bridge_run(n: int, windows: int, window: float, settle: float) -> dict[str, Any]:
    plain = await room_cpu(n, Grants(), windows, window, settle)
    bridged = await room_cpu(n, H264_ONLY, windows, window, settle)
    assert plain["bridges"] == 0 and bridged["bridges"] == 1, (plain, bridged)
    result = {"n": n, "bridge_cpu_pct": round(bridged["cpu_pct"] - plain["cpu_pct"], 1),
              "process_cpu_pct_with_bridge": bridged["cpu_pct"], "process_cpu_pct_vp8_baseline": plain["cpu_pct"],
              "bridge_fps": bridged["bridge_fps"], "dropped": bridged["dropped"],
              "min_subscriber_fps_h264": bridged["min_subscriber_fps"],
              "min_subscriber_fps_vp8": plain["min_subscriber_fps"]}
    log(f"bridge N={n}: {result}")
    return result


# --- recording against forwarding -------------------------------------------------------------------
def window_cpu(pids: list[int], seconds: float) -> list[float]:
    """CPU of each process over *seconds*, as % of one core."""
    before, t0 = [cpu_seconds(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    return [(cpu_seconds(p) - b) / elapsed * 100 for p, b in zip(pids, before, strict=True)]


def median_cpu(pids: list[int], windows: int, seconds: float) -> list[float]:
    samples = [window_cpu(pids, seconds) for _ in range(windows)]
    return [round(statistics.median(s[i] for s in samples), 1) for i in range(len(pids))]


def wait(what: str, check, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout} s")
        time.sleep(0.2)


def recording_run(windows: int, seconds: float, settle: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="cc-transcode-"))
    path = str(tmp / "server.sock")
    procs: list[Proc] = []
    try:
        server = Proc("bench/sfu_server.py", "--mode", "forward-fixed", "--socket", path)
        procs.append(server)
        server.read()  # ready
        for i in range(4):
            publisher = Proc("bench/sfu_client.py", "--role", "publisher", "--socket", path, "--pid", f"pub{i}")
            procs.append(publisher)
            publisher.read()
        time.sleep(settle)
        (base,) = median_cpu([server.pid], windows, seconds)

        subs = Proc("bench/sfu_client.py", "--role", "subscribers", "--socket", path)
        procs.append(subs)
        subs.ask({"cmd": "join", "pids": ["viewer"], "decode": False})

        def viewer_frames() -> int:
            return subs.ask({"cmd": "counters"})["subs"]["viewer"]["video_frames"]
        wait("the subscriber receiving four videos", lambda: viewer_frames() >= 4 * 60)
        time.sleep(settle)
        forwarding_total, receiving = median_cpu([server.pid, subs.pid], windows, seconds)
        subs.stop({"cmd": "quit"})
        procs.remove(subs)

        out = tmp / "recording"
        recorder = Proc("bench/sfu_client.py", "--role", "recorder", "--socket", path, "--out", str(out))
        procs.append(recorder)

        def recorded() -> dict[str, int]:
            return recorder.ask({"cmd": "counters"})["subs"]["recorder"]
        wait("the recorder writing eight tracks", lambda: recorded()["tracks"] == 8 and recorded()["video_frames"]
             >= 4 * 60)
        time.sleep(settle)
        server_with_recorder, recording = median_cpu([server.pid, recorder.pid], windows, seconds)
        written = sum(f.stat().st_size for f in out.glob("s1-*"))
        marginal = round(forwarding_total - base, 1)

        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 2) if b > 0 else None
        return {"publishers": 4, "streams": 8, "server_base_cpu_pct": base,
                "forwarding_cpu_pct": forwarding_total, "forwarding_marginal_cpu_pct": marginal,
                "receiving_cpu_pct": receiving, "recording_cpu_pct": recording,
                "server_with_recorder_cpu_pct": server_with_recorder, "recorded_bytes": written,
                "recording_vs_forwarding": ratio(recording, forwarding_total),
                "recording_vs_forwarding_marginal": ratio(recording, marginal),
                "recording_vs_receiving": ratio(recording, receiving)}
    finally:
        for p in reversed(procs):
            p.stop({"cmd": "quit"})
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    args = arguments(__doc__, "one short window each, N = 1 and 4 only").parse_args()
    window, settle = (2.0, 1.0) if args.quick else (10.0, 3.0)
    windows = 1 if args.quick else 3
    started = time.time()
    info = machine()
    import uvloop

    bridge = [uvloop.run(bridge_run(n, windows, window / 2 if args.quick else 5.0, settle))
              for n in ((1, 4) if args.quick else (1, 4, 16))]
    by_n = {r["n"]: r for r in bridge}
    top = max(by_n)
    recording = recording_run(windows, window / 2 if args.quick else 5.0, settle)
    log(f"recording: {recording}")
    result = {
        "benchmark": "transcode", "quick": args.quick, "started": started, "machine": info,
        "bridge": bridge,
        "bridge_cpu_pct": {str(n): r["bridge_cpu_pct"] for n, r in by_n.items()},
        f"bridge_cpu_ratio_{top}_vs_1": round(by_n[top]["bridge_cpu_pct"] / by_n[1]["bridge_cpu_pct"], 2),
        "recording": recording,
        "recording_cpu_pct": recording["recording_cpu_pct"],
        "recording_vs_forwarding": recording["recording_vs_forwarding"],
        "goals": {"bridge_cpu_ratio_16_vs_1": "<= 1.2", "recording_vs_forwarding": "<= 2.0"},
        "cpu_count": os.cpu_count(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
