"""The control plane's SQLite store: reads never see another request's transaction (committed
data only, never a rolled-back write), and migrations are split as SQLite reads them and applied
whole or not at all."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

import control_plane.db as db_module
from control_plane.db import open_database, split_statements
from tests.support.util import eventually


async def test_a_read_sees_only_what_is_committed(tmp_path: Path) -> None:
    db = await open_database(str(tmp_path / "cp.sqlite3"))
    try:
        await db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        writing, release = asyncio.Event(), asyncio.Event()

        async def slow_writer(text: str, fail: bool) -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
                writing.set()
                await release.wait()
                if fail:
                    raise RuntimeError("the request failed half-way")

        task = asyncio.get_running_loop().create_task(slow_writer("rolled back", fail=True))
        await writing.wait()     # the insert is made, not committed
        assert await db.fetch_all("SELECT text FROM notes") == []
        release.set()
        with pytest.raises(RuntimeError):
            await task
        assert await db.fetch_all("SELECT text FROM notes") == []          # nor ever after its rollback

        writing.clear()
        release.clear()
        task = asyncio.get_running_loop().create_task(slow_writer("kept", fail=False))
        await writing.wait()
        assert (await db.fetch_one("SELECT count(*) AS n FROM notes"))["n"] == 0
        release.set()
        await task
        assert [r["text"] for r in await db.fetch_all("SELECT text FROM notes")] == ["kept"]
    finally:
        await db.close()


def test_statements_split_as_sqlite_reads_them() -> None:
    sql = """-- Notes; one row each (a ';' in a comment).
CREATE TABLE t (a TEXT DEFAULT 'x;y', "odd;name" INTEGER);
/* a block; comment */
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
  UPDATE t SET a = 'z;' WHERE rowid = new.rowid;
END;
-- only a comment at the end;
INSERT INTO t (a) VALUES ('semi;colon')
"""
    statements = split_statements(sql)
    assert len(statements) == 3
    assert statements[0].endswith("\"odd;name\" INTEGER);")
    assert "UPDATE t SET a = 'z;'" in statements[1] and statements[1].endswith("END;")
    assert "'semi;colon'" in statements[2]
    assert split_statements("-- nothing; at all\n\n;;") == []


async def test_a_migration_applies_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = db_module.migration_files()
    good = (9001, "9001_notes.sql", "CREATE TABLE notes (text TEXT DEFAULT 'a;b');\n"
                                    "INSERT INTO notes DEFAULT VALUES")
    bad = (9002, "9002_broken.sql", "INSERT INTO notes (text) VALUES ('first;');\nINSERT INTO nowhere VALUES (1)")
    monkeypatch.setattr(db_module, "migration_files", lambda: [*real, good, bad])
    with pytest.raises(Exception, match="nowhere"):
        await open_database(str(tmp_path / "cp.sqlite3"))
    monkeypatch.setattr(db_module, "migration_files", lambda: [*real, good])
    db = await open_database(str(tmp_path / "cp.sqlite3"))
    try:
        assert [r["text"] for r in await db.fetch_all("SELECT text FROM notes")] == ["a;b"]   # 9002 left nothing
        names = [r["name"] for r in await db.fetch_all("SELECT name FROM schema_migrations ORDER BY version")]
        assert names[-1] == "9001_notes.sql" and "9002_broken.sql" not in names
    finally:
        await db.close()


async def test_a_write_cancelled_at_any_moment_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A task cancelled at any moment of a run of writes: the next write still starts a
    transaction of its own (nothing is left half-open)."""
    db = await open_database(str(tmp_path / "cancel.sqlite3"))
    rng = random.Random(7)
    try:
        for _ in range(60):
            async def writer() -> None:
                while True:
                    await db.execute("DELETE FROM sessions WHERE expires_at < ?", (0,))

            task = asyncio.create_task(writer())
            await asyncio.sleep(rng.uniform(0, 0.005))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert await db.execute("DELETE FROM sessions WHERE expires_at < ?", (0,)) == 0
    finally:
        await db.close()


async def test_a_write_waits_for_another_process_s_lock_without_blocking_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes run on the event loop's thread: while another connection (another process) holds
    the write lock, the loop goes on and the write starts once the lock is free; after
    ``BUSY_WAIT`` it fails with SQLite's own error instead."""
    path = tmp_path / "busy.sqlite3"
    db = await open_database(str(path))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)  # yield: counts the turns the loop takes while the write waits

        tick = asyncio.create_task(ticker())
        write = asyncio.create_task(db.execute("DELETE FROM sessions WHERE expires_at < ?", (0,)))
        await eventually(lambda: ticks >= 10, what="the loop running while the write waits")
        assert not write.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(write, 5) == 0
        tick.cancel()

        monkeypatch.setattr(db_module, "BUSY_WAIT", 0.1)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await db.execute("DELETE FROM sessions WHERE expires_at < ?", (0,))
        other.execute("ROLLBACK")
        assert await db.execute("DELETE FROM sessions WHERE expires_at < ?", (0,)) == 0  # nothing left open
    finally:
        other.close()
        await db.close()


async def test_the_write_ahead_log_is_checkpointed_off_the_loop(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``CHECKPOINT_EVERY`` writes the log is copied into the database file (on the reader's
    thread): a copy of the file alone, without its ``-wal``, holds what was written."""
    monkeypatch.setattr(db_module, "CHECKPOINT_EVERY", 5)
    path = tmp_path / "wal.sqlite3"
    db = await open_database(str(path))
    try:
        await db.execute("CREATE TABLE notes (text TEXT)")
        for i in range(4):
            await db.execute("INSERT INTO notes VALUES (?)", (f"n{i}",))
        assert db._checkpoint is not None
        await db._checkpoint
        copy = tmp_path / "copy.sqlite3"
        shutil.copyfile(path, copy)
        alone = sqlite3.connect(copy)
        try:
            assert [r[0] for r in alone.execute("SELECT text FROM notes")] == ["n0", "n1", "n2", "n3"]
        finally:
            alone.close()
    finally:
        await db.close()


async def test_only_a_file_path_opens(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be a file path"):
        await open_database(":memory:")


async def test_a_large_purge_goes_in_batches(tmp_path: Path) -> None:
    db = await open_database(str(tmp_path / "purge.sqlite3"))
    try:
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO applied_events (event_id, meeting_id, kind, applied_at) VALUES (?, ?, ?, ?)",
                                   [(f"e{i}", "m", "joined", float(i)) for i in range(1234)])
        writes = 0
        real = db.execute

        async def counting(sql: str, params: tuple | dict = ()) -> int:
            nonlocal writes
            writes += 1
            return await real(sql, params)
        db.execute = counting  # type: ignore[method-assign]
        assert await db.delete_in_batches("applied_events", "event_id", "applied_at < ?", (1200.0,), batch=500) == 1200
        assert writes == 3                                     # 500, 500, 200: three transactions
        left = await db.fetch_all("SELECT event_id FROM applied_events ORDER BY applied_at")
        assert [r["event_id"] for r in left] == [f"e{i}" for i in range(1200, 1234)]
    finally:
        await db.close()


async def test_a_read_never_sees_an_old_snapshot_while_other_reads_are_under_way(tmp_path: Path) -> None:
    """Reads interleaved on the reader connection: each one sees every write committed before it
    started (none keeps a read transaction open for the next)."""
    db = await open_database(str(tmp_path / "snap.sqlite3"))
    try:
        await db.execute("CREATE TABLE n (v INTEGER)")
        await db.execute("INSERT INTO n (v) VALUES (0)")
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO n (v) VALUES (?)", [(i,) for i in range(1, 2000)])
        stop = asyncio.Event()

        async def busy_reader() -> None:     # many-row reads, all the time
            while not stop.is_set():
                await db.fetch_all("SELECT v FROM n")
                await db.fetch_one("SELECT v FROM n ORDER BY v")

        readers = [asyncio.create_task(busy_reader()) for _ in range(3)]
        try:
            for i in range(1, 60):
                await db.execute("UPDATE n SET v = ? WHERE rowid = 1", (-i,))
                assert (await db.fetch_one("SELECT v FROM n WHERE rowid = 1"))["v"] == -i
        finally:
            stop.set()
            await asyncio.gather(*readers)
    finally:
        await db.close()
