"""Soak: one meeting of 20 participants for 30 minutes, with people leaving and joining all along,
watching every process's memory and open files.

The stack runs as in production (``bench/machine.py``'s: nats-server, the control plane, the
edge supervisor and one worker); every participant joins through the control plane's API and
the edge's signaling. Publishers send 640×480@30 VP8 and Opus; the others count frames. Every
``--churn`` seconds one group of subscribers leaves and a new one joins, so peer connections,
sockets and roster entries are made and dropped throughout.

For each process the resident memory (``VmRSS``) and the open file descriptors are sampled every
``--sample`` seconds; the baseline is taken once the meeting has settled (after ``--warmup``),
and the result compares the last sample with it:

* ``rss_growth_pct`` — (last − baseline) / baseline × 100; goal ≤ 10;
* ``fd_growth`` — last − baseline; goal 0.

    .venv/bin/python bench/soak.py [--minutes 30] [--participants 20] [--out bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Proc, emit, log, machine  # noqa: E402
from bench.machine import Stack, worker_pids  # noqa: E402

GROUP = 2  # subscribers a client process hosts: the unit of churn


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Soak:
    def __init__(self, stack: Stack, publishers: int, subscribers: int) -> None:
        self.stack, self.publishers = stack, publishers
        self.meeting = stack.meeting()
        for _ in range(publishers):
            stack.publish(self.meeting)
        self.groups: list[Proc] = []
        self.joined = self.left = 0
        for _ in range(subscribers // GROUP):
            self.add_group()

    def add_group(self) -> None:
        proc = Proc("bench/cascade_client.py", "--role", "subscribers")
        for i in range(GROUP):
            granted = self.stack.join(self.meeting, f"sub-{self.joined + i}")
            proc.ask({"cmd": "join", "tokens": [granted["token"]], "url": granted["edge_url"], "decode": False})
        self.joined += GROUP
        self.groups.append(proc)

    def churn(self) -> None:
        """The oldest group leaves (its process ends, as a closed tab would), a new one joins."""
        oldest = self.groups.pop(0)
        oldest.stop(grace=15)
        self.left += GROUP
        self.add_group()

    def counters(self) -> list[dict[str, Any]]:
        return [c for g in self.groups for c in g.ask({"cmd": "counters"})["subs"]]

    def wait_for_video(self, timeout: float = 90) -> None:
        self.stack.wait(lambda: all(c["video_frames"] >= 10 for c in self.counters()), timeout,
                        "video at every subscriber")

    def fps(self, seconds: float) -> float:
        """The worst subscriber's video frames per second and publisher over *seconds*."""
        before = self.counters()
        started = time.monotonic()
        time.sleep(seconds)
        after = self.counters()
        dt = time.monotonic() - started
        return min((b["video_frames"] - a["video_frames"]) / dt for a, b in zip(before, after)) / self.publishers

    def stop(self) -> None:
        for g in self.groups:
            g.stop(grace=15)
        self.stack.stop()


def sample(pids: dict[str, int]) -> dict[str, dict[str, int]]:
    return {name: {"rss_kb": rss_kb(pid), "fds": fds(pid)} for name, pid in pids.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--churn", type=float, default=60.0, help="seconds between one group leaving and joining")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before the baseline sample")
    parser.add_argument("--sample", type=float, default=30.0)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    subscribers = (args.participants - args.publishers) // GROUP * GROUP
    started = machine()
    with tempfile.TemporaryDirectory(prefix="cc-bench-soak-") as tmp:
        stack = Stack(Path(tmp) / "stack", 1, {})
        soak = Soak(stack, args.publishers, subscribers)
        try:
            pids = {"nats-server": stack.nats.pid, "control_plane": stack.cp.pid, "edge_supervisor": stack.sup.pid,
                    **{f"edge_worker:{k}": v for k, v in worker_pids(stack.machine_id, 1).items()}}
            soak.wait_for_video()
            t0 = time.monotonic()
            end = t0 + args.minutes * 60
            baseline: dict[str, dict[str, int]] | None = None
            series: list[dict[str, Any]] = []
            next_churn, next_sample = t0 + args.churn, t0
            fps: list[float] = []
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    s = sample(pids)
                    series.append({"t_s": round(now - t0, 1), **s})
                    if baseline is None and now - t0 >= args.warmup:
                        baseline = s
                    next_sample += args.sample
                if now >= next_churn:
                    soak.churn()
                    soak.wait_for_video()
                    fps.append(soak.fps(3.0))
                    log(f"{(now - t0) / 60:.1f} min: {soak.joined} joined, {soak.left} left, "
                        f"worst fps {fps[-1]:.1f}, {series[-1]}")
                    next_churn += args.churn
                time.sleep(max(0.0, min(next_sample, next_churn, end) - time.monotonic()))
            last = sample(pids)
            series.append({"t_s": round(time.monotonic() - t0, 1), **last})
        finally:
            soak.stop()
    base = baseline or series[0]
    processes = {name: {"rss_kb_baseline": base[name]["rss_kb"], "rss_kb_last": last[name]["rss_kb"],
                        "rss_growth_pct": round(100 * (last[name]["rss_kb"] - base[name]["rss_kb"])
                                                / base[name]["rss_kb"], 2),
                        "fds_baseline": base[name]["fds"], "fds_last": last[name]["fds"],
                        "fd_growth": last[name]["fds"] - base[name]["fds"]} for name in pids}
    result = {
        "benchmark": "soak",
        "machine": started,
        "config": {"minutes": args.minutes, "participants": args.publishers + subscribers,
                   "publishers": args.publishers, "subscribers": subscribers, "churn_s": args.churn,
                   "churn_group": GROUP, "warmup_s": args.warmup, "sample_s": args.sample,
                   "video": "640x480@30 VP8 pinned at 1 Mb/s, and Opus"},
        "joined": soak.joined + args.publishers, "left": soak.left,
        "worst_fps_per_track_after_churn": {"min": round(min(fps), 1), "median": round(statistics.median(fps), 1)} if fps
        else None,
        "processes": processes,
        "rss_growth_pct": max(p["rss_growth_pct"] for p in processes.values()),
        "fd_growth": max(p["fd_growth"] for p in processes.values()),
        "goals": {"rss_growth_pct": "<= 10 for every process", "fd_growth": "0 for every process"},
        "series": series,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
