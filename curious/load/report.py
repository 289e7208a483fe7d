"""The figures of a ``curious load`` run: percentiles, the JSON report, the progress line and the
PNG plot of joins and frames per second over time."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from .participant import Record


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def received_fps(r: Record) -> float | None:
    """Frames per second decoded per video track received, averaged over the tracks (None: none came)."""
    rates = [(n - 1) / (last - first) for first, last, n in r.tracks.values() if n >= 2 and last > first]
    return round(statistics.fmean(rates), 2) if rates else None


def sent_fps(r: Record, end: float) -> float | None:
    if not r.published or not r.frames_sent:
        return None
    until = r.left or end
    return round(r.frames_sent / (until - r.published), 2) if until > r.published else None


class FpsWindow:
    """Each receiving participant's decoded video frames per second per track since the last look
    (counts only: a long run keeps no list of frames)."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[float, int]] = {}

    def sample(self, records: list[Record], t: float) -> list[float]:
        out = []
        for r in records:
            last = self._last.get(r.index)
            self._last[r.index] = (t, r.frames)
            live = sum(1 for first, _, n in r.tracks.values() if n and first <= t)
            if last is None or not live or t <= last[0] or not r.joined or (r.left and r.left < t):
                continue
            out.append((r.frames - last[1]) / (t - last[0]) / live)
        return out


def summarise(values: list[float]) -> dict[str, float | None]:
    return {"min": round(min(values), 2) if values else None,
            "median": round(statistics.median(values), 2) if values else None,
            "max": round(max(values), 2) if values else None}


def build(records: list[Record], *, started: float, ended: float, settings: dict[str, Any],
          timeline: list[dict[str, Any]], edges_cpu: dict[str, dict[str, Any]]) -> dict[str, Any]:
    joins = [r.joined - r.started for r in records if r.joined]
    firsts = [r.first_frame - r.started for r in records if r.first_frame]
    recv = [v for v in (received_fps(r) for r in records) if v is not None]
    sent = [v for v in (sent_fps(r, ended) for r in records) if v is not None]
    failures = [{"participant": r.name, "reason": r.failure} for r in records if r.failure]
    return {
        "settings": settings,
        "duration_s": round(ended - started, 2),
        "participants": len(records),
        "joined": len(joins),
        "failed": len(failures),
        "join_ms": {"p50": _ms(percentile(joins, 50)), "p99": _ms(percentile(joins, 99))},
        "first_frame_ms": {"p50": _ms(percentile(firsts, 50)), "p99": _ms(percentile(firsts, 99))},
        "fps_received": summarise(recv),
        "fps_sent": summarise(sent),
        "failures": failures,
        "edges_cpu": edges_cpu,
        "per_participant": [{
            "name": r.name, "role": "publisher" if r.publishes else "subscriber", "edge_id": r.edge_id,
            "join_ms": _ms(r.joined - r.started) if r.joined else None,
            "first_frame_ms": _ms(r.first_frame - r.started) if r.first_frame else None,
            "fps_received": received_fps(r), "fps_sent": sent_fps(r, ended),
            "tracks_received": len(r.tracks), "failure": r.failure,
        } for r in records],
        "timeline": timeline,
    }


def progress_line(sample: dict[str, Any], total: int) -> str:
    fps = sample["fps_received"]
    cpu = sample.get("edges_cpu_pct") or {}
    parts = [f"{sample['t']:6.1f}s", f"joined {sample['joined']}/{total}", f"failed {sample['failed']}",
             f"fps median {fps['median']:.1f} min {fps['min']:.1f}" if fps["median"] is not None else "fps -"]
    if cpu:
        parts.append("edges cpu " + " ".join(f"{k} {v:.0f}%" for k, v in sorted(cpu.items())))
    return "  ".join(parts)


def plot(report: dict[str, Any], path: Path) -> None:
    """Joins over time and the receivers' frames per second (median and min) over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = report["timeline"]
    t = [s["t"] for s in tl]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.step(t, [s["joined"] for s in tl], where="post", label="joined")
    top.step(t, [s["failed"] for s in tl], where="post", label="failed", color="tab:red")
    top.set_ylabel("participants")
    top.legend(loc="upper left")
    top.set_title(f"curious load: {report['participants']} participants, "
                  f"join p50 {report['join_ms']['p50']} ms")
    nan = float("nan")
    bottom.plot(t, [s["fps_received"]["median"] if s["fps_received"]["median"] is not None else nan for s in tl],
                label="median")
    bottom.plot(t, [s["fps_received"]["min"] if s["fps_received"]["min"] is not None else nan for s in tl],
                label="min", linestyle="--")
    bottom.set_ylabel("received fps per track")
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
