"""PostgreSQL through an asyncpg pool, behind the same :class:`~control_plane.db.Database` interface.

The repositories write their SQL once, in the SQLite dialect with ``?`` and ``:name`` parameters;
:func:`to_postgres` is the one place that turns it into PostgreSQL's (``$n`` parameters and the
few SQLite-isms the repositories use). Migrations are the ``NNNN_name.sql`` files in
``migrations_pg/`` — the same versions and names as ``migrations/`` — each applied in its own
transaction under a transaction-level advisory lock, so control planes starting together apply
each exactly once.

Write transactions take one advisory lock (``WRITE_LOCK``) first: they run one at a time across
every control plane on the database, as they do on SQLite within one, so the repositories' read-
then-write transactions keep their meaning. Within a process they queue on an ``asyncio.Lock``
before taking a connection, so the pool is left to reads (also those made inside a transaction),
which see the last commit.

When the server cannot be reached (refused, reset, shutting down), every method raises
:class:`~control_plane.db.DatabaseUnavailable`; the pool opens fresh connections on the next
call, so the control plane recovers by itself when the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import asyncpg

from . import Cursor, Database, DatabaseUnavailable, Row
from . import migration_files as _migration_files

log = logging.getLogger(__name__)

#: Advisory lock keys (``pg_advisory_xact_lock``): arbitrary, fixed, ours.
WRITE_LOCK = 0x43430001
MIGRATE_LOCK = 0x43430002
LEADER_LOCKS = {"events": 0x43430010, "sweeps": 0x43430011, "webhooks": 0x43430012}

#: Errors that mean the server is not there (now), as opposed to a wrong statement.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError, asyncpg.InterfaceError)

_NOW = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_STRFTIME_NOW = re.compile(r"strftime\('%Y-%m-%dT%H:%M:%fZ',\s*'now'\)")
_REWRITES = [
    (re.compile(r"\bIS\s+NOT\s+\?"), "IS DISTINCT FROM ?"),
    (re.compile(r"\bIS\s+\?"), "IS NOT DISTINCT FROM ?"),
    (re.compile(r"\bLIKE\b"), "ILIKE"),   # SQLite's LIKE ignores ASCII case
]
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW)\b|\bRETURNING\b", re.I)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def to_postgres(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> tuple[str, list[Any]]:
    """*sql* (SQLite dialect, ``?`` or ``:name`` parameters) and its arguments for asyncpg.

    Rewrites ``strftime('%Y-%m-%dT%H:%M:%fZ','now')`` (the UTC timestamp text the schema stores),
    ``INSERT OR IGNORE`` (``ON CONFLICT DO NOTHING``), ``IS [NOT] ?`` (``IS [NOT] DISTINCT FROM``)
    and ``LIKE`` (``ILIKE``, as SQLite's ignores ASCII case); string literals, quoted names and
    comments are left alone, ``::`` casts too."""
    out: list[str] = []
    args: list[Any] = []
    named: dict[str, int] = {}
    positional = iter(params) if not isinstance(params, dict) else None
    or_ignore = bool(_OR_IGNORE.match(sql))
    if or_ignore:
        sql = _OR_IGNORE.sub("INSERT INTO", sql, count=1)
    sql = _STRFTIME_NOW.sub(lambda _: _NOW, sql)   # before literals are told apart: it holds some
    i, n = 0, len(sql)
    code_start = 0

    def flush_code(end: int) -> None:
        chunk = sql[code_start:end]
        for pattern, repl in _REWRITES:
            chunk = pattern.sub(repl, chunk)
        # placeholders in the rewritten code
        j = 0
        while j < len(chunk):
            ch = chunk[j]
            if ch == "?":
                if positional is None:
                    raise ValueError("`?` parameter with named arguments")
                try:
                    args.append(next(positional))
                except StopIteration:
                    raise ValueError("fewer arguments than `?` parameters") from None
                out.append(f"${len(args)}")
                j += 1
            elif ch == ":" and j + 1 < len(chunk) and chunk[j + 1] == ":":
                out.append("::")
                j += 2
            elif ch == ":" and (m := _NAME.match(chunk, j + 1)) and (j == 0 or chunk[j - 1] != ":"):
                if not isinstance(params, dict):
                    raise ValueError(f"named parameter :{m.group()} with positional arguments")
                name = m.group()
                if name not in named:
                    args.append(params[name])
                    named[name] = len(args)
                out.append(f"${named[name]}")
                j = m.end()
            else:
                out.append(ch)
                j += 1

    while i < n:
        ch = sql[i]
        if ch in "'\"":
            flush_code(i)
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:   # '' or "" inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1])
            i = code_start = end + 1
        elif sql.startswith("--", i):
            flush_code(i)
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end])
            i = code_start = end
        else:
            i += 1
    flush_code(n)
    text = "".join(out)
    if positional is not None and next(positional, None) is not None:
        raise ValueError("more arguments than `?` parameters")
    if or_ignore and not re.search(r"\bON\s+CONFLICT\b", text, re.I):
        text = text.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return text, args


@contextlib.asynccontextmanager
async def _guard() -> AsyncIterator[None]:
    """Turn "the server is not there" into :class:`DatabaseUnavailable` (the body's own errors pass)."""
    try:
        yield
    except UNAVAILABLE as exc:
        if isinstance(exc, ValueError):   # asyncpg's client-side DataError: a wrong argument, a bug
            raise
        raise DatabaseUnavailable(f"PostgreSQL is unavailable: {type(exc).__name__}: {exc}") from None


def _rowcount(status: str) -> int:
    """``UPDATE 3`` → 3, ``INSERT 0 1`` → 1; -1 when the status carries no count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class Connection:
    """The connection a :meth:`PostgresDatabase.transaction` yields (the repositories' ``conn``)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.raw = conn

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        text, args = to_postgres(sql, params)
        async with _guard():
            if _RETURNS_ROWS.search(text):
                rows = await self.raw.fetch(text, *args)
                return Cursor(list(rows), len(rows))
            return Cursor([], _rowcount(await self.raw.execute(text, *args)))

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any] | dict[str, Any]]) -> None:
        batch = [to_postgres(sql, params) for params in seq]
        if batch:
            async with _guard():
                await self.raw.executemany(batch[0][0], [args for _, args in batch])


class PostgresDatabase(Database):
    """An asyncpg pool; the interface of :class:`~control_plane.db.Database`."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float = 10.0) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout
        self.url = ""
        self._leaders: dict[str, asyncpg.Connection] = {}
        self._held: set[str] = set()
        self._writer = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        # One transaction of this process at a time waits for the lock (as on SQLite): the others
        # hold no connection meanwhile, so reads made inside a transaction always find one free.
        async with self._writer:
            async with self._transaction() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with _guard():
            conn = await self.pool.acquire(timeout=self.acquire_timeout)
        try:
            tr = conn.transaction()
            async with _guard():
                await tr.start()
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            try:
                yield Connection(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    await tr.rollback()
                raise
            async with _guard():
                await tr.commit()
        finally:
            with contextlib.suppress(Exception):
                await self.pool.release(conn)

    async def fetch_one(self, sql: str, params: tuple | dict = ()) -> Row | None:
        text, args = to_postgres(sql, params)
        async with _guard(), self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return await conn.fetchrow(text, *args)

    async def fetch_all(self, sql: str, params: tuple | dict = ()) -> list[Row]:
        text, args = to_postgres(sql, params)
        async with _guard(), self.pool.acquire(timeout=self.acquire_timeout) as conn:
            return list(await conn.fetch(text, *args))

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(2.0):
                await self.fetch_one("SELECT 1")
            return True
        except Exception:  # noqa: BLE001
            return False

    async def leader(self, name: str) -> bool:
        """Whether this process holds the session-level advisory lock *name* (taking it when free).

        Asked on a connection of its own, kept open: the lock is released when that session ends —
        this process exits, is killed, or loses the server — and another control plane then takes it."""
        conn = self._leaders.get(name)
        if conn is not None and conn.is_closed():
            conn = None
            self._held.discard(name)
        if conn is not None and name in self._held:
            return True
        try:
            if conn is None:
                conn = self._leaders[name] = await asyncpg.connect(self.url, timeout=5.0)
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCKS[name], timeout=5.0):
                self._held.add(name)
                return True
        except Exception:  # noqa: BLE001 - not reachable now: not the one now
            self._leaders.pop(name, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
        return False

    async def close(self) -> None:
        for conn in self._leaders.values():
            with contextlib.suppress(Exception):
                await conn.close(timeout=2.0)
        self._leaders.clear()
        self._held.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(), 10.0)


def migration_files() -> list[tuple[int, str, str]]:
    """The PostgreSQL migrations (`migrations_pg/`): the same versions and names as SQLite's."""
    return _migration_files("migrations_pg")


async def migrate(conn: asyncpg.Connection, files: list[tuple[int, str, str]] | None = None) -> list[str]:
    """Apply the migrations not yet in ``schema_migrations``, each whole in its own transaction,
    under ``MIGRATE_LOCK``: another control plane migrating at the same time waits, then skips."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            f" applied_at TEXT NOT NULL DEFAULT ({_NOW}))")
    applied = []
    for version, name, sql in files if files is not None else migration_files():
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
            if await conn.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version):
                continue
            await conn.execute(sql)   # simple query protocol: every statement of the file
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        applied.append(name)
        log.info("migration applied", extra={"migration": name})
    return applied


async def open_postgres(url: str, *, pool_size: int = 10, connect_wait: float = 60.0) -> PostgresDatabase:
    """Connect (retrying for *connect_wait* seconds while the server is unreachable), bring the
    schema up to date and return the database."""
    deadline = time.monotonic() + connect_wait
    delay = 0.2
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=5.0)
            break
        except UNAVAILABLE as exc:
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(f"PostgreSQL is unavailable: {type(exc).__name__}: {exc}") from None
            log.warning("database not reachable yet", extra={"error": f"{type(exc).__name__}: {exc}",
                                                              "retry_in": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(url, min_size=0, max_size=pool_size, timeout=5.0, command_timeout=30.0,
                                     max_inactive_connection_lifetime=60.0)
    db = PostgresDatabase(pool)
    db.url = url
    return db
