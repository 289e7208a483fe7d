"""A node's memory: giving back what the C allocator keeps (:class:`HeapTrimmer`), and snapshots
for finding what a long-running process keeps (an operator's diagnosis tool).

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
import contextlib
import ctypes
import ctypes.util
import linecache
import logging
import os
import signal
import sys
import time
import tracemalloc
from collections.abc import Callable
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


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def rss_bytes() -> int:
    """This process's resident memory (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class HeapTrimmer:
    """Hands back to the system the memory the C allocator keeps after a peak.

    glibc keeps freed heap memory for reuse; a process whose load comes and goes (participants
    joining and leaving: peer connections, DTLS and SRTP contexts, socket buffers) keeps its
    highest need resident, and its resident size creeps up with each new peak of fragmentation.
    Every *interval* seconds, when *activity* (a count that changes when something was released)
    has moved, ``malloc_trim(0)`` runs on a worker thread (it holds no Python lock) and returns
    the free pages. Nothing happens where the C library has no ``malloc_trim``.
    """

    def __init__(self, activity: Callable[[], int], *, interval: float = 60.0) -> None:
        self.activity, self.interval = activity, interval
        self._trim = _malloc_trim()
        self._seen = activity()
        self._task: asyncio.Task[None] | None = None
        self.trims = 0
        self.released = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def start(self) -> None:
        if self._trim is not None and self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heap-trim")

    async def trim_now(self) -> int:
        """Trim once (on a worker thread); the resident bytes it gave back (0 when it could not)."""
        if self._trim is None:
            return 0
        trim = self._trim
        before = rss_bytes()
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(None, trim, 0)
        freed = max(0, before - rss_bytes())
        self.trims += 1
        self.released += freed
        took_ms = round((time.perf_counter() - started) * 1e3, 2)
        log.debug("heap trimmed", extra={"released_bytes": freed, "took_ms": took_ms})
        return freed

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = self.activity()
            if now != self._seen:
                self._seen = now
                try:
                    await self.trim_now()
                except Exception as exc:  # noqa: BLE001 - never worth stopping anything for
                    log.warning("heap trim failed", extra={"error": repr(exc)})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


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
