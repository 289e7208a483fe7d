"""Machine benchmark: subscriber streams one edge machine holds with 1 worker and with N workers
(``python -m edge.workers``), and one meeting that outgrows a worker and spreads onto another.

The whole stack runs as in production: a nats-server, the control plane (``python -m
control_plane``) and the machine's workers; every participant joins through the control plane's
API (a guest's join → token and edge) and speaks the signaling protocol over the edge's ``/ws``
(``bench/cascade_client.py``). Publishers send 640×480@30 VP8 (pinned at 1 Mb/s) and Opus,
replaying a clip encoded once and, once connected, writing its packets themselves
(``bench/clip.py``: keyframe requests answered as a live encoder would); subscribers count RTP
packets and complete video frames from the RTP headers, without decoding, reading each socket's
queue with one ``recvmmsg`` (``bench/drain.py``). Both keep the load generators' CPU small next to
the workers they load.

* **streams(W)** — ``2 × W`` meetings (one publisher each) on a machine of W workers, placed by
  the control plane; subscribers are added in steps (4 a meeting, or an eighth more once that is
  larger, a sixteenth once a worker or the machine is above 80 %; those of a step join at once),
  and after each step every
  subscriber's video frame rate is read over a window. ``streams`` is the most subscriber streams
  (one a track and subscriber) held with every subscriber at ≥ 24 fps. Spreading is off here.
  ``parallel_efficiency`` = streams(N) / (N × streams(1)).
* **spread** — a machine of N workers with ``placement.busy_streams`` set to half of streams(1):
  one meeting grows to 1.5 × that limit; the control plane sends its later joins to another
  worker, which joins the meeting's cascade. ``spread_min_fps`` is the worst subscriber's frame
  rate over the last window, and ``spread_workers`` how many subscribers each worker seated.

The load generators (publishers and subscribers) run on the same machine and their CPU is
reported: on a small machine they take a large share of it, which caps what the workers can be
given (``clients_cpu_pct``).

    .venv/bin/python bench/machine.py [--quick] [--workers N] [--out bench/results/machine.json]
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import clip  # noqa: E402
from bench.cascade import free_port, start_nats  # noqa: E402
from bench.common import BITRATE, Proc, arguments, cpu_seconds, emit, log, machine, machine_busy  # noqa: E402
from nodes.settings import dump_toml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HELD_FPS = 24.0
PER_PROCESS = 16  # subscribers per client process


def consecutive_ports(n: int) -> int:
    import socket

    for _ in range(200):
        first = free_port()
        held: list[socket.socket] = []
        try:
            for port in range(first, first + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port range")


def worker_pids(machine_id: str, workers: int) -> dict[str, int]:
    want = {f"{machine_id}-w{k}": f"{machine_id}-w{k}.toml".encode() for k in range(1, workers + 1)}
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for edge_id, name in want.items():
            if any(a.endswith(name) for a in args):
                found[edge_id] = int(entry.name)
    return found


class Stack:
    """nats-server, a control plane and one machine of *workers* workers, in *workdir*."""

    def __init__(self, workdir: Path, workers: int, placement: dict[str, Any], clip: str) -> None:
        workdir.mkdir(parents=True)
        self.clip = clip
        self.publishers: dict[str, int] = {}  # edge id → publishers placed there
        self.workdir, self.workers, self.machine_id = workdir, workers, "bench"
        self.nats, nats_url = start_nats(workdir)
        self.cp_port = free_port()
        self.base = f"http://127.0.0.1:{self.cp_port}"
        cp = {"public_url": self.base, "http": {"host": "127.0.0.1", "port": self.cp_port},
              "nats": {"servers": [nats_url]}, "database": {"path": str(workdir / "cp.sqlite3")},
              "keys": {"dir": str(workdir / "keys")}, "log": {"level": "WARNING", "format": "json"},
              "bootstrap": {"admin_password_file": str(workdir / "admin-password")}, "placement": placement}
        (workdir / "cp.toml").write_text(dump_toml(cp))
        self.logs = [open(workdir / "cp.log", "wb"), open(workdir / "machine.log", "wb")]
        self.cp = subprocess.Popen([sys.executable, "-m", "control_plane", "--config", str(workdir / "cp.toml")],
                                   cwd=ROOT, stdout=self.logs[0], stderr=subprocess.STDOUT)
        first = consecutive_ports(workers)
        edge_machine = {"machine_id": self.machine_id, "workers": workers, "first_port": first,
                        "state_dir": str(workdir / "workers"), "log": {"format": "json", "level": "WARNING"},
                        "edge": {"region": "local", "nats": {"servers": [nats_url]}, "heartbeat": {"interval": 0.5},
                                 "log": {"format": "json", "level": "WARNING"}}}
        (workdir / "machine.toml").write_text(dump_toml(edge_machine))
        self.sup = subprocess.Popen([sys.executable, "-m", "edge.workers", "--config", str(workdir / "machine.toml")],
                                    cwd=ROOT, stdout=self.logs[1], stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.base, timeout=20)
        self.admin = self._admin()
        self.wait(lambda: len(self.edges()) == workers, 60, f"{workers} workers live")
        self.pids = worker_pids(self.machine_id, workers)
        self.clients: list[Proc] = []
        self.subscriber_procs: list[tuple[Proc, int]] = []  # (process, subscribers it hosts)
        self.subscribers: list[tuple[str, str]] = []  # (meeting, edge id) of each subscriber

    @staticmethod
    def wait(check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if value := check():
                    return value
            except (httpx.HTTPError, OSError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for: {what}")

    def _admin(self) -> dict[str, str]:
        def token() -> str | None:
            password = (self.workdir / "admin-password").read_text().strip()
            r = self.http.post("/api/v1/auth/token", json={"username": "admin", "password": password})
            return r.json()["token"] if r.status_code == 200 else None
        return {"Authorization": f"Bearer {self.wait(token, 60, 'the control plane')}"}

    def edges(self) -> dict[str, dict[str, Any]]:
        r = self.http.get("/api/v1/edges", headers=self.admin)
        r.raise_for_status()
        return {e["edge_id"]: e for e in r.json()}

    def meeting(self) -> str:
        r = self.http.post("/api/v1/meetings", json={"title": "bench", "allow_guests": True,
                                                     "max_participants": 1000}, headers=self.admin)
        r.raise_for_status()
        return r.json()["id"]

    def join(self, meeting_id: str, name: str) -> dict[str, Any]:
        r = self.http.post(f"/api/v1/meetings/{meeting_id}/join", json={"display_name": name})
        r.raise_for_status()
        granted = r.json()
        granted["edge_url"] += f"?meeting={meeting_id}"
        return granted

    def publish(self, meeting_id: str) -> str:
        granted = self.join(meeting_id, f"pub-{len(self.clients)}")
        proc = Proc("bench/cascade_client.py", "--role", "publisher", "--url", granted["edge_url"],
                    "--token", granted["token"], "--clip", self.clip)
        proc.read()
        self.clients.append(proc)
        # the next placement sees this one (participants and CPU in the next heartbeat)
        edge = granted["edge_id"]
        self.publishers[edge] = self.publishers.get(edge, 0) + 1
        self.wait(lambda: self.edges()[edge]["participants"] >= self.publishers[edge], 10,
                  "the publisher in a heartbeat")
        return edge

    def subscribe(self, meeting_id: str, count: int = 1) -> list[str]:
        """*count* subscribers join *meeting_id* (through the control plane's API, then at once on
        the edges, 16 to a client process); the edges they were sent to."""
        grants = [self.join(meeting_id, f"sub-{len(self.subscribers) + i}") for i in range(count)]
        batches: dict[int, tuple[Proc, list[dict[str, Any]]]] = {}
        for granted in grants:
            proc = next((p for p, n in self.subscriber_procs if n < PER_PROCESS), None)
            if proc is None:
                proc = Proc("bench/cascade_client.py", "--role", "subscribers")
                self.subscriber_procs.append((proc, 0))
            self.subscriber_procs = [(p, n + 1 if p is proc else n) for p, n in self.subscriber_procs]
            batches.setdefault(id(proc), (proc, []))[1].append(granted)
            self.subscribers.append((meeting_id, granted["edge_id"]))
        for proc, batch in batches.values():
            proc.send({"cmd": "join", "tokens": [g["token"] for g in batch], "urls": [g["edge_url"] for g in batch],
                       "decode": False, "batch": True})
        for proc, _ in batches.values():
            proc.read()
        return [g["edge_id"] for g in grants]

    def counters(self) -> list[dict[str, Any]]:
        return [c for p, _ in self.subscriber_procs for c in p.ask({"cmd": "counters"})["subs"]]

    def wait_for_video(self, timeout: float = 90) -> None:
        self.wait(lambda: all(c["video_frames"] >= 10 for c in self.counters()), timeout,
                  "video at every subscriber")

    def client_pids(self) -> list[int]:
        return [p.pid for p in self.clients] + [p.pid for p, _ in self.subscriber_procs]

    def window(self, seconds: float) -> dict[str, Any]:
        c0, m0 = self.counters(), machine_busy()
        w0 = {e: cpu_seconds(pid) for e, pid in self.pids.items()}
        k0 = sum(cpu_seconds(pid) for pid in self.client_pids())
        start = time.monotonic()
        time.sleep(seconds)
        c1, m1 = self.counters(), machine_busy()
        dt = time.monotonic() - start
        w1 = {e: cpu_seconds(pid) for e, pid in self.pids.items()}
        k1 = sum(cpu_seconds(pid) for pid in self.client_pids())
        fps = [(y["video_frames"] - x["video_frames"]) / dt for x, y in zip(c0, c1)]
        return {"min_fps": round(min(fps), 1), "median_fps": round(statistics.median(fps), 1),
                "batched": sum(1 for c in c1 if c.get("batched")),
                "workers_cpu_pct": {e: round(100 * (w1[e] - w0[e]) / dt, 1) for e in w0},
                "clients_cpu_pct": round(100 * (k1 - k0) / dt, 1),
                "machine_busy_pct": round(100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 1)}

    def stop(self) -> None:
        procs = [p for p, _ in self.subscriber_procs] + self.clients
        for proc in procs:  # all leave at once
            with contextlib.suppress(OSError):
                proc.p.stdin.close()
        deadline = time.monotonic() + 15
        for proc in procs:
            proc.stop(grace=max(0.1, deadline - time.monotonic()))
        for p in (self.sup, self.cp):
            p.terminate()
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.nats.terminate()
        self.nats.wait(10)
        self.http.close()
        for f in self.logs:
            f.close()


def streams_held(workdir: Path, workers: int, args: Any) -> dict[str, Any]:
    """Grow 2 × *workers* meetings until a subscriber drops below 24 fps (or the cap)."""
    stack = Stack(workdir, workers, {"busy_cpu_pct": 0, "busy_streams": 0}, args.clip)
    steps: list[dict[str, Any]] = []
    try:
        meetings = [stack.meeting() for _ in range(2 * workers)]
        homes = [stack.publish(m) for m in meetings]
        held = 0
        while len(stack.subscribers) < args.max_subscribers * workers:
            started = time.monotonic()
            # each step adds args.step subscribers a meeting, or an eighth more once that is larger
            # (a sixteenth once a worker or the machine is above 80 %: finer steps near the limit)
            near = bool(steps) and (max(steps[-1]["workers_cpu_pct"].values()) > 80
                                    or steps[-1]["machine_busy_pct"] > 80)
            step = max(args.step, len(stack.subscribers) // len(meetings) // (16 if near else 8))
            for m in meetings:
                stack.subscribe(m, step)
            try:
                stack.wait_for_video()
            except RuntimeError:  # someone got no video at all: this step is past the limit
                log(f"workers={workers}: not every subscriber got video; measuring the step as it is")
            time.sleep(args.settle)
            w = stack.window(args.window)
            row = {"subscribers": len(stack.subscribers), "streams": 2 * len(stack.subscribers), **w}
            steps.append(row)
            log(f"workers={workers}: {row['streams']} streams, min fps {w['min_fps']}, workers "
                f"{w['workers_cpu_pct']}, clients {w['clients_cpu_pct']} %, machine {w['machine_busy_pct']} % "
                f"({time.monotonic() - started:.0f} s)")
            if w["min_fps"] < HELD_FPS:
                break
            held = row["streams"]
        return {"workers": workers, "streams": held, "meetings": len(meetings),
                "meetings_per_worker": {e: homes.count(e) for e in sorted(set(homes))}, "steps": steps}
    finally:
        stack.stop()


def spread(workdir: Path, workers: int, limit: int, args: Any) -> dict[str, Any]:
    """One meeting growing to 1.5 × *limit* streams with ``busy_streams`` = *limit*."""
    stack = Stack(workdir, workers, {"busy_cpu_pct": 0, "busy_streams": limit}, args.clip)
    try:
        m = stack.meeting()
        site = stack.publish(m)
        target = max(2, (3 * limit) // 4)  # subscribers: 2 streams each → 1.5 × limit streams
        while len(stack.subscribers) < target:
            for _ in range(min(args.step, target - len(stack.subscribers))):
                stack.subscribe(m)
            stack.wait_for_video()
            # the site's heartbeat counts the new streams before the next joins are placed
            total = 2 * len(stack.subscribers)
            stack.wait(lambda total=total: sum(e["streams"] for e in stack.edges().values()) >= total, 20,
                       "streams counted")
        time.sleep(args.settle)
        w = stack.window(args.window)
        seated = {e: sum(1 for _, x in stack.subscribers if x == e) for e in sorted({x for _, x in stack.subscribers})}
        log(f"spread: {seated}, min fps {w['min_fps']}")
        return {"busy_streams": limit, "subscribers": len(stack.subscribers), "streams": 2 * len(stack.subscribers),
                "site": site, "spread_workers": seated, **w}
    finally:
        stack.stop()


def cpu_efficiency(one: dict[str, Any], many: dict[str, Any]) -> dict[str, Any] | None:
    """At the most streams both runs held: the single worker's CPU over the N workers' CPU together
    (1.0: splitting the load over workers costs nothing more in all). A figure the load generators
    do not bound, unlike ``parallel_efficiency`` on a machine they crowd."""
    held_one = {r["streams"]: r for r in one["steps"] if r["min_fps"] >= HELD_FPS}
    held_many = {r["streams"]: r for r in many["steps"] if r["min_fps"] >= HELD_FPS}
    common = sorted(set(held_one) & set(held_many))
    if not common:
        return None
    streams = common[-1]
    single = sum(held_one[streams]["workers_cpu_pct"].values())
    spread = sum(held_many[streams]["workers_cpu_pct"].values())
    return {"streams": streams, "one_worker_cpu_pct": round(single, 1), "workers_cpu_pct": round(spread, 1),
            "ratio": round(single / spread, 3) if spread else None}


def main() -> None:
    parser = arguments(__doc__, quick="small steps and a low cap (a smoke run)")
    parser.add_argument("--workers", type=int, default=2, help="the workers of the bigger configuration")
    args = parser.parse_args()
    args.step, args.max_subscribers = (2, 8) if args.quick else (4, 600)
    args.window, args.settle = (3.0, 1.0) if args.quick else (5.0, 2.0)
    started = machine()
    with tempfile.TemporaryDirectory(prefix="cc-bench-machine-") as tmp:
        args.clip = str(Path(tmp) / "clip.msgpack")
        clip.make(Path(args.clip))
        one = streams_held(Path(tmp) / "one", 1, args)
        many = streams_held(Path(tmp) / "many", args.workers, args)
        limit = max(8, (one["streams"] // 2) // 2 * 2)
        spreading = spread(Path(tmp) / "spread", args.workers, limit, args)
    efficiency = many["streams"] / (args.workers * one["streams"]) if one["streams"] else None
    result = {
        "benchmark": "machine",
        "machine": started,
        "config": {"video": f"640x480@30 VP8 pinned at {BITRATE // 1000} kb/s, a pre-encoded clip replayed "
                            "(bench/clip.py)", "audio": "Opus, 20 ms, replayed",
                   "held_fps": HELD_FPS, "step_subscribers_per_meeting": args.step, "window_s": args.window,
                   "settle_s": args.settle, "max_subscribers_per_worker": args.max_subscribers,
                   "clients": "publishers writing the clip's packets directly once connected (bench/clip.py "
                              "Direct) and counting subscribers (RTP headers read off the ICE connection with "
                              f"recvmmsg) on the same machine, {PER_PROCESS} subscribers a process",
                   "quick": args.quick},
        "one_worker": one,
        "workers": many,
        "parallel_efficiency": None if efficiency is None else round(efficiency, 3),
        "worker_cpu_efficiency": cpu_efficiency(one, many),
        "spread": spreading,
        "spread_min_fps": spreading["min_fps"],
        "notes": {
            "streams": "subscriber streams (one a track and subscriber) held with every subscriber at >= 24 fps",
            "parallel_efficiency": "streams(N workers) / (N x streams(1 worker)), same run",
            "worker_cpu_efficiency": "at the most streams both configurations held: the one worker's CPU / the N "
                                     "workers' CPU together",
            "clients_cpu_pct": "CPU of the load generators (all publishers and subscribers) in percent of one core",
            "spread_min_fps": "worst subscriber of the one meeting that spread over workers, last window",
        },
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
