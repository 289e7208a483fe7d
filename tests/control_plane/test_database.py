"""The control plane's SQLite store: reads never see another request's transaction (committed
data only, never a rolled-back write), and migrations are split as SQLite reads them and applied
whole or not at all."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import pytest

import control_plane.db as db_module
from control_plane.db import open_database, split_statements


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
    """A task cancelled while its BEGIN, statement or ROLLBACK waits on aiosqlite's thread: the
    next write still starts a transaction of its own (nothing is left half-open)."""
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
