"""Memory snapshots on SIGUSR2 (CC_MEMORY_SNAPSHOTS) and comparing two of them."""

from __future__ import annotations

import asyncio
import os
import signal
import tracemalloc
from pathlib import Path

import pytest

from nodes import memory
from tests.support.util import eventually

KEPT: list[bytes] = []


def grow() -> None:
    KEPT.extend(bytes(4096) + bytes([i % 256]) for i in range(512))  # about 2 MiB held


async def test_sigusr2_writes_snapshots_that_show_what_grew(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(memory.ENV_FOLDER, str(tmp_path / "snaps"))
    monkeypatch.setenv(memory.ENV_FRAMES, "4")
    loop = asyncio.get_running_loop()
    was_tracing = tracemalloc.is_tracing()
    snapshots = memory.install(loop, "edge edge-1")
    assert snapshots is not None and tracemalloc.is_tracing()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        first = await eventually(lambda: sorted((tmp_path / "snaps").glob("*.tracemalloc")) or None,
                                 what="the first snapshot")
        assert first[0].name == f"edge_edge-1-{os.getpid()}-1.tracemalloc"
        grow()
        os.kill(os.getpid(), signal.SIGUSR2)
        both = await eventually(lambda: (s := sorted((tmp_path / "snaps").glob("*.tracemalloc"))) and
                                len(s) == 2 and s or None, what="the second snapshot")
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
        if not was_tracing:
            tracemalloc.stop()
        KEPT.clear()
    lines = memory.compare(both[0], both[1], top=5)
    assert lines[0].startswith("growth +")
    assert "test_memory.py" in lines[1] and "KiB" in lines[1], lines  # grow()'s line leads
    growth_kib = float(lines[1].split("KiB")[0])
    assert growth_kib > 1800, lines

    assert memory.cli(["compare", str(both[0]), str(both[1]), "--top", "3"]) == 0
    assert "test_memory.py" in capsys.readouterr().out
    assert memory.cli(["compare", str(tmp_path / "missing"), str(both[1])]) == 1
    assert "cannot read a snapshot" in capsys.readouterr().err


def test_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory.ENV_FOLDER, raising=False)
    loop = asyncio.new_event_loop()
    try:
        assert memory.install(loop, "edge") is None
    finally:
        loop.close()


async def test_the_heap_is_trimmed_after_activity_and_gives_memory_back() -> None:
    activity, polls = 0, 0

    def departures() -> int:
        nonlocal polls
        polls += 1
        return activity

    trimmer = memory.HeapTrimmer(departures, interval=0.02)
    if not trimmer.available:
        pytest.skip("this C library has no malloc_trim (glibc only)")
    # Freed holes in the heap (blocks below glibc's mmap threshold) stay resident until trimmed.
    blocks = [bytearray(32 * 1024) for _ in range(2000)]
    kept = blocks[::10]
    del blocks
    assert await trimmer.trim_now() > 8 * 1024 * 1024
    assert trimmer.trims == 1 and len(kept) == 200

    trimmer.start()
    try:
        await eventually(lambda: polls >= 6, what="a few intervals")
        assert trimmer.trims == 1          # nothing left meanwhile: no trim
        activity += 1                      # someone left
        await eventually(lambda: trimmer.trims == 2, what="a trim after the activity")
    finally:
        await trimmer.stop()
