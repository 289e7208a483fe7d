"""The control plane's store: SQLite (the default) or PostgreSQL, one interface (:class:`Database`).

SQLite: WAL mode, foreign keys on, schema migrations kept in the repo. Writes run on the event
loop's own thread, on one connection (:class:`Writer`): in WAL mode with ``synchronous=NORMAL`` a
statement and its commit touch only the page cache (tens of microseconds), far less than handing
each one to a database thread and waking the loop again — an event applied in one transaction of
eight statements went from about 2 ms to a fraction of one. What could block does not run there:
another process holding the write lock is waited for asynchronously (``BEGIN IMMEDIATE`` is tried
again), and checkpoints (which sync the file) run on the reader's aiosqlite thread. Reads run on
that aiosqlite connection, so they never wait on a write and see only committed data.
PostgreSQL (``[database] url``, for control planes side by side) through an asyncpg pool:
:mod:`.postgres`, its migrations in ``migrations_pg/``.

Migrations are the ``NNNN_name.sql`` files in ``migrations/``, applied in order, each in its own
transaction (all of it or nothing), and recorded in ``schema_migrations``; a file is split into
statements as SQLite reads them (:func:`split_statements`). A migration is never edited once
released; changes come as a new file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import aiosqlite

if TYPE_CHECKING:
    from ..settings import DatabaseSettings

log = logging.getLogger(__name__)

#: A row as either store returns it (aiosqlite.Row, asyncpg.Record): ``row["col"]`` and ``row[0]``.
Row: TypeAlias = Any
#: The connection a transaction yields: ``await conn.execute(sql, params)`` → a :class:`Cursor`
#: (``rowcount``, ``fetchone()``, ``fetchall()``); ``executemany``.
Connection: TypeAlias = Any

#: Write statements between two checkpoints of the SQLite write-ahead log (SQLite's own default
#: is 1000 pages; a commit here writes a few).
CHECKPOINT_EVERY = 200
#: How long a write waits for another process that holds the SQLite write lock.
BUSY_WAIT = 5.0


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (PostgreSQL down or restarting): the API answers 503."""


def integrity_errors() -> tuple[type[Exception], ...]:
    """What a broken constraint (unique, foreign key, check) raises, in either store."""
    import asyncpg

    return (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


class Cursor:
    """What ``execute`` returns, in either store: the rows (all fetched), ``rowcount``, ``lastrowid``."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None = None) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[Row]:
        rows, self._next = self._rows[self._next:], len(self._rows)
        return rows


class Database:
    """What the repositories use; :class:`SqliteDatabase` and :class:`.postgres.PostgresDatabase`."""

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        raise NotImplementedError

    async def fetch_one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        raise NotImplementedError

    async def fetch_all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        raise NotImplementedError

    async def execute(self, sql: str, params: tuple | dict = ()) -> int:
        """Run one write statement in its own transaction; returns the number of rows changed."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def delete_in_batches(self, table: str, key: str, where: str, params: tuple = (), *,
                                batch: int = 500) -> int:
        """Delete the rows of *table* matching *where*, *batch* at a time (by the unique column
        *key*), each batch its own transaction: a large purge never holds the write lock — on
        SQLite, the event loop — for long. *table*, *key* and *where* are the caller's SQL, never
        input. Returns how many rows went."""
        total = 0
        while True:
            n = await self.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table}"  # noqa: S608
                                   f" WHERE {where} LIMIT {int(batch)})", params)
            total += max(n, 0)
            if n < batch:
                return total

    async def ping(self) -> bool:
        try:
            await self.fetch_one("SELECT 1")
            return True
        except Exception:  # noqa: BLE001
            return False

    async def leader(self, name: str) -> bool:
        """Whether this control plane is the one (of those sharing the database) to do *name*
        ("events": read the events stream). One process owns an SQLite file: always."""
        return True

    async def close(self) -> None:
        raise NotImplementedError


class Writer:
    """The SQLite connection a :meth:`SqliteDatabase.transaction` yields (the repositories' ``conn``).

    Each statement runs at once on the calling (event loop's) thread and its rows are fetched
    whole; no statement waits on a lock (the transaction took it) or on the disk (WAL, no sync on
    commit)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    async def execute(self, sql: str, params: tuple | dict = ()) -> Cursor:
        cur = self.raw.execute(sql, params)
        try:
            rows = cur.fetchall() if cur.description is not None else []
            return Cursor(rows, cur.rowcount, cur.lastrowid)
        finally:
            cur.close()

    async def executemany(self, sql: str, seq: Any) -> None:
        self.raw.executemany(sql, seq).close()


class SqliteDatabase(Database):
    """One writer connection (:class:`Writer`, on the event loop's thread) and one reader (aiosqlite).

    Writes go through :meth:`transaction`, serialised by a lock. :meth:`fetch_one` and
    :meth:`fetch_all` use the reader, so a request never sees another request's transaction half
    done (WAL: readers see the last commit). Inside a transaction, read through the connection it
    yields to see your own writes.
    """

    def __init__(self, writer: sqlite3.Connection, reader: aiosqlite.Connection) -> None:
        self.writer = Writer(writer)
        self.reader = reader
        self._lock = asyncio.Lock()
        self._since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        async with self._lock:
            await self._begin()
            raw = self.writer.raw
            try:
                yield self.writer
            except BaseException:
                if raw.in_transaction:  # (some errors end the transaction themselves)
                    raw.execute("ROLLBACK")
                raise
            try:
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY and (self._checkpoint is None or self._checkpoint.done()):
            self._since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._checkpoint_wal(), name="wal-checkpoint")

    async def _begin(self) -> None:
        """``BEGIN IMMEDIATE`` (the write lock). While another process holds it, try again after a
        pause, up to :data:`BUSY_WAIT` seconds, without blocking the event loop."""
        await asyncio.sleep(0)  # a write yields once, so a run of them cannot starve everything else
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + BUSY_WAIT, 0.002
        while True:
            try:
                self.writer.raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _checkpoint_wal(self) -> None:
        """Copy the write-ahead log into the database file (and sync it) on the reader's thread."""
        try:
            async with self.reader.execute("PRAGMA wal_checkpoint(PASSIVE)"):
                pass
        except Exception as exc:  # noqa: BLE001 - the next one tries again; nothing is lost meanwhile
            log.warning("wal checkpoint failed", extra={"error": repr(exc)})

    # A read runs whole in one call on the reader's thread (``execute_fetchall``): a statement
    # left open between calls would hold a read transaction, and another request's read queued in
    # between would see that old snapshot, not the writes committed since.
    async def fetch_one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        rows = await self.reader.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def fetch_all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        return list(await self.reader.execute_fetchall(sql, params))

    async def close(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        with contextlib.suppress(sqlite3.Error):
            self.writer.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.writer.raw.close()
        await self.reader.close()


async def open_store(settings: DatabaseSettings) -> Database:
    """The store *settings* name: PostgreSQL at ``url`` when set, else SQLite at ``path``."""
    if settings.url:
        from .postgres import open_postgres

        return await open_postgres(settings.url, pool_size=settings.pool_size, connect_wait=settings.connect_wait)
    return await open_database(settings.path)


async def open_database(path: str) -> SqliteDatabase:
    """Open (creating if needed) the SQLite database file at *path* and bring its schema up to date."""
    if path == ":memory:" or path.startswith("file:"):
        raise ValueError(f"the SQLite database must be a file path (reads and writes use separate connections): {path}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    reader = await _connect(path)
    try:
        await reader.execute("PRAGMA journal_mode=WAL")
        await migrate(reader)   # on the reader's thread, before anything writes
        writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except BaseException:
        await reader.close()
        raise
    writer.row_factory = sqlite3.Row
    for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "busy_timeout=0", "wal_autocheckpoint=0"):
        writer.execute(f"PRAGMA {pragma}")
    return SqliteDatabase(writer, reader)


async def _connect(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    return conn


def migration_files(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of the ``NNNN_name.sql`` files in *folder* (``migrations`` for
    SQLite, ``migrations_pg`` for PostgreSQL), in order."""
    out = []
    for entry in resources.files(__package__).joinpath(folder).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text("utf-8")))
    return sorted(out)


async def migrate(db: aiosqlite.Connection) -> list[str]:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    async with db.execute("SELECT version FROM schema_migrations") as cur:
        done = {row[0] for row in await cur.fetchall()}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        async with transaction(db):
            for statement in split_statements(sql):
                await db.execute(statement)
            await db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        applied.append(name)
        log.info("migration applied", extra={"migration": name})
    return applied


def split_statements(sql: str) -> list[str]:
    """Split a migration into its statements as SQLite reads them (``sqlite3.complete_statement``):
    a ``;`` inside a string, a quoted name, a comment or a trigger's body does not end one. A last
    statement without its ``;`` counts; comments and blanks between statements are dropped."""
    statements: list[str] = []
    current = ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if _has_code(current):
                statements.append(current.strip())
            current = ""
    rest = current[:-1]  # the ";" added after the last piece
    if _has_code(rest):
        statements.append(rest.strip())
    return statements


def _has_code(sql: str) -> bool:
    """Is there more than comments, blanks and semicolons?"""
    text = re.sub(r"/\*.*?\*/", "", sql, flags=re.S)
    return any(line.split("--", 1)[0].strip(" ;\t") for line in text.splitlines())


@contextlib.asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[aiosqlite.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception, so nothing is half-written.

    Cancellation-safe: a statement handed to aiosqlite runs on its thread even when the task that
    awaited it is cancelled, in the order given. So a ``BEGIN`` cancelled while it waited is
    followed there by a ``ROLLBACK``, and a rollback is not given up half-way by a second
    cancellation: the connection is never left inside a transaction nobody ends."""
    try:
        await db.execute("BEGIN IMMEDIATE")
    except asyncio.CancelledError:
        _end(db, "ROLLBACK")
        raise
    try:
        yield db
    except BaseException:
        await asyncio.shield(_end(db, "ROLLBACK"))
        raise
    else:
        await db.execute("COMMIT")


_ending: set[asyncio.Task[None]] = set()


def _end(db: aiosqlite.Connection, sql: str) -> asyncio.Task[None]:
    """Run *sql* on *db* whatever becomes of the caller (errors are the original exception's
    business: a ROLLBACK with no transaction open, a connection already closed)."""
    async def run() -> None:
        with contextlib.suppress(Exception):
            await db.execute(sql)

    task = asyncio.get_running_loop().create_task(run())
    _ending.add(task)
    task.add_done_callback(_ending.discard)
    return task
