"""The control plane's store: SQLite (the default) or PostgreSQL, one interface (:class:`Database`).

SQLite through aiosqlite: WAL mode, foreign keys on, schema migrations kept in the repo.
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
#: The connection a transaction yields: ``await conn.execute(sql, params)`` → a cursor with
#: ``rowcount``, ``fetchone()``, ``fetchall()``; ``executemany``.
Connection: TypeAlias = Any


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (PostgreSQL down or restarting): the API answers 503."""


def integrity_errors() -> tuple[type[Exception], ...]:
    """What a broken constraint (unique, foreign key, check) raises, in either store."""
    import asyncpg

    return (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


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


class SqliteDatabase(Database):
    """A writer and a reader connection.

    Writes go through :meth:`transaction`, serialised by a lock, on the writer. :meth:`fetch_one`
    and :meth:`fetch_all` use the reader, so a request never sees another request's transaction
    half done (WAL: readers see the last commit). Inside a transaction, read through the
    connection it yields to see your own writes.
    """

    def __init__(self, conn: aiosqlite.Connection, reader: aiosqlite.Connection | None = None) -> None:
        self.conn = conn
        self.reader = reader or conn
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock, transaction(self.conn) as conn:
            yield conn

    async def fetch_one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        async with self.reader.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetch_all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def close(self) -> None:
        if self.reader is not self.conn:
            await self.reader.close()
        await self.conn.close()


async def open_store(settings: DatabaseSettings) -> Database:
    """The store *settings* name: PostgreSQL at ``url`` when set, else SQLite at ``path``."""
    if settings.url:
        from .postgres import open_postgres

        return await open_postgres(settings.url, pool_size=settings.pool_size, connect_wait=settings.connect_wait)
    return await open_database(settings.path)


async def open_database(path: str) -> SqliteDatabase:
    """Open (creating if needed) the SQLite database at *path* and bring its schema up to date."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await _connect(path)
    try:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    # An in-memory database exists only on its own connection: it reads there too.
    reader = await _connect(path) if path != ":memory:" else None
    return SqliteDatabase(db, reader)


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
