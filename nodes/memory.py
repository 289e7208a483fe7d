"""Memory snapshots for finding what a long-running process keeps (an operator's diagnosis tool).

Off unless the environment asks for it: with ``CC_MEMORY_SNAPSHOTS=<folder>`` a process started by
the runner traces its Python allocations (:mod:`tracemalloc`, ``CC_MEMORY_FRAMES`` frames each,
default 12; tracing costs CPU, so this is for a diagnosis, not for production) and writes a
snapshot to ``<folder>/<service>-<pid>-<n>.tracemalloc`` on each ``SIGUSR2``. Two snapshots of one
process compared show which lines hold the memory that grew between them::

    kill -USR2 <pid>            # a baseline, then again later
    python -m nodes.memory compare A.tracemalloc B.tracemalloc [--top 25] [--by lineno|traceback]

Native allocations (codec buffers, OpenSSL, the allocator's own high-water mark) are not Python
allocations: when the resident size grows and the snapshots do not, that is where it went.
"""

from __future__ import annotations

import argparse
import asyncio
import linecache
import logging
import os
import signal
import sys
import tracemalloc
from pathlib import Path

log = logging.getLogger(__name__)

ENV_FOLDER = "CC_MEMORY_SNAPSHOTS"
ENV_FRAMES = "CC_MEMORY_FRAMES"


class Snapshots:
    """Writes numbered snapshots of this process to *folder*."""

    def __init__(self, folder: Path, service: str) -> None:
        self.folder, self.service, self.count = folder, service, 0

    def take(self) -> Path:
        self.count += 1
        path = self.folder / f"{self.service}-{os.getpid()}-{self.count}.tracemalloc"
        tmp = path.with_suffix(".part")
        tracemalloc.take_snapshot().dump(str(tmp))
        tmp.replace(path)
        traced, peak = tracemalloc.get_traced_memory()
        log.info("memory snapshot written", extra={"path": str(path), "traced_bytes": traced, "peak_bytes": peak})
        return path


def install(loop: asyncio.AbstractEventLoop, service: str) -> Snapshots | None:
    """Start tracing and answer ``SIGUSR2`` with a snapshot, when ``CC_MEMORY_SNAPSHOTS`` names a folder."""
    folder = os.environ.get(ENV_FOLDER, "").strip()
    if not folder:
        return None
    try:
        frames = max(1, int(os.environ.get(ENV_FRAMES, "12")))
    except ValueError:
        frames = 12
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    snapshots = Snapshots(path, "".join(c if c.isalnum() or c in "-_." else "_" for c in service))
    if not tracemalloc.is_tracing():
        tracemalloc.start(frames)

    def take() -> None:
        try:
            snapshots.take()
        except OSError as exc:
            log.error("memory snapshot not written", extra={"folder": folder, "error": str(exc)})

    loop.add_signal_handler(signal.SIGUSR2, take)
    log.warning("tracing memory allocations (slower): SIGUSR2 writes a snapshot",
                extra={"folder": folder, "frames": frames})
    return snapshots


def compare(before: Path, after: Path, *, top: int = 25, by: str = "lineno") -> list[str]:
    """The *top* differences from *before* to *after*, largest growth first, as lines of text."""
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    stats = new.compare_to(old, by)
    total = sum(s.size_diff for s in stats)
    lines = [f"growth {total / 1024:+.1f} KiB over {len(stats)} {by} entries; largest first:"]
    for stat in stats[:top]:
        frame = stat.traceback[-1]  # the most recent frame: where the memory was allocated
        lines.append(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  "
                     f"(now {stat.size / 1024:.1f} KiB)  {frame.filename}:{frame.lineno}  "
                     f"{linecache.getline(frame.filename, frame.lineno).strip()}")
        if by == "traceback":
            lines.extend("        " + line for line in stat.traceback.format(most_recent_first=True)[2:])
    return lines


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nodes.memory", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="what grew between two snapshots of one process")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--top", type=int, default=25)
    cmp.add_argument("--by", choices=["lineno", "filename", "traceback"], default="lineno")
    args = parser.parse_args(argv)
    try:
        print("\n".join(compare(args.before, args.after, top=args.top, by=args.by)))
    except (OSError, EOFError, ValueError) as exc:
        print(f"error: cannot read a snapshot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
