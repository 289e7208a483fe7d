"""PostgreSQL as the control plane's store, against a real server: the SQL translation, migrations
(each applied once, two migrators at once), the repositories' SQL, shared sign-in limits, events
applied once, and what an outage looks like to the code."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import asyncpg
import pytest
from litestar.exceptions import TooManyRequestsException

from control_plane.accounts.repository import AccountRepository
from control_plane.auth.oidc_flow import Pending, StateStore
from control_plane.auth.ratelimit import StoredGuessLimiter, StoredLoginLimiter
from control_plane.auth.sessions import SessionStore
from control_plane.db import DatabaseUnavailable, migration_files
from control_plane.db import postgres as pg
from control_plane.events import repository as roster
from control_plane.events.apply import apply_event
from control_plane.meetings.repository import MeetingRepository
from nodes import wire
from tests.support.postgres import Postgres, pg_server, postgres_available  # noqa: F401 - pg_server: a fixture
from tests.support.util import require

_names = itertools.count()


@pytest.fixture
def url(pg_server: Postgres) -> str:
    """A fresh, empty database on the module's server."""
    return pg_server.create_database(f"t{next(_names)}")


# -- the translation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "params", "want", "args"), [
    ("SELECT a FROM t WHERE b = ? AND c = ?", (1, "x"), "SELECT a FROM t WHERE b = $1 AND c = $2", [1, "x"]),
    ("UPDATE t SET a = :a, b = :b WHERE id = :_id AND a != :a", {"a": 1, "b": 2, "_id": "i"},
     "UPDATE t SET a = $1, b = $2 WHERE id = $3 AND a != $1", [1, 2, "i"]),
    ("SELECT '?', 'it''s :x', \"q?\" FROM t WHERE a = ? -- why?\n AND b::text = ?", (1, 2),
     "SELECT '?', 'it''s :x', \"q?\" FROM t WHERE a = $1 -- why?\n AND b::text = $2", [1, 2]),
    ("INSERT OR IGNORE INTO t (a) VALUES (?)", (1,), "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING", [1]),
    ("UPDATE t SET at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?", ("i",),
     f"UPDATE t SET at = {pg._NOW} WHERE id = $1", ["i"]),
    ("DELETE FROM s WHERE a = ? AND h IS NOT ?", (1, None), "DELETE FROM s WHERE a = $1 AND h IS DISTINCT FROM $2",
     [1, None]),
    ("SELECT 1 FROM t WHERE n LIKE ? ESCAPE '\\'", ("%a%",), "SELECT 1 FROM t WHERE n ILIKE $1 ESCAPE '\\'",
     ["%a%"]),
])
def test_sql_is_translated(sql: str, params: tuple | dict, want: str, args: list) -> None:
    assert pg.to_postgres(sql, params) == (want, args)


def test_translation_refuses_mismatched_arguments() -> None:
    with pytest.raises(ValueError, match="fewer"):
        pg.to_postgres("SELECT ? , ?", (1,))
    with pytest.raises(ValueError, match="more"):
        pg.to_postgres("SELECT ?", (1, 2))
    with pytest.raises(ValueError, match="named"):
        pg.to_postgres("SELECT :a", (1,))


def test_both_stores_have_the_same_migrations() -> None:
    assert [(v, n) for v, n, _ in pg.migration_files()] == [(v, n) for v, n, _ in migration_files()]


# -- migrations -----------------------------------------------------------------------------------

async def test_migrations_apply_once_even_when_two_control_planes_start_together(url: str) -> None:
    conns = [await asyncpg.connect(url) for _ in range(2)]
    try:
        applied = await asyncio.gather(*(pg.migrate(c) for c in conns))
        names = [n for _, n, _ in pg.migration_files()]
        assert sorted(applied[0] + applied[1]) == sorted(names)   # each by one of them
        assert await pg.migrate(conns[0]) == []                   # and never again
        rows = await conns[0].fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in rows] == names
    finally:
        for c in conns:
            await c.close()


async def test_a_failing_migration_leaves_nothing(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        files = [(9001, "9001_ok.sql", "CREATE TABLE notes (t TEXT);"),
                 (9002, "9002_bad.sql", "INSERT INTO notes VALUES ('half'); SELECT no_such_function();")]
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await pg.migrate(conn, files)
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
        assert [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")] == [9001]
    finally:
        await conn.close()


# -- the repositories' SQL on PostgreSQL ----------------------------------------------------------

async def test_repositories_work_on_postgres(url: str) -> None:
    db = await pg.open_postgres(url)
    try:
        accounts = AccountRepository(db)
        async with db.transaction() as conn:
            alice = await accounts.insert(conn, username="Alice", display_name="Alice A", role="host", source="local")
            assert await accounts.update(conn, alice, display_name="Alice B", disabled=True) == 1
        row = await accounts.by_username("ALICE")                         # names compare without case
        assert (row["id"], row[0], row["display_name"], bool(row["disabled"])) == (alice, alice, "Alice B", True)
        assert row["updated_at"].endswith("Z") and "T" in row["updated_at"]
        assert [r["username"] for r in await accounts.list(query="ali")] == ["Alice"]
        assert await accounts.list(query="a_i") == []                     # "_" is literal

        meetings = MeetingRepository(db)
        async with db.transaction() as conn:
            mid = await meetings.insert(conn, {"owner_id": alice, "title": "Standup", "lobby": True})
            await meetings.set_cohosts(conn, mid, [alice])
        await meetings.add_moderator(mid, alice, "x", time.time())
        await meetings.add_moderator(mid, alice, "x", time.time())      # INSERT OR IGNORE
        assert [r["id"] for r in await meetings.list_for(alice)] == [mid]
        assert await meetings.is_cohost(mid, alice)

        sessions = SessionStore(db)
        token, _ = await sessions.create(alice)
        other, _ = await sessions.create(alice)
        assert (await sessions.lookup(token)).account_id == alice
        assert await sessions.revoke_account(alice, keep=(await sessions.lookup(token)).token_hash) == 1
        assert await sessions.lookup(other) is None and await sessions.lookup(token) is not None

        event = wire.ParticipantJoined(event_id="e1", meeting_id=mid, edge_id="edge-a", at=time.time(),
                                       participant_id="p1", account_id=alice, display_name="Alice", role="host")
        track = wire.TrackPublished(event_id="e2", meeting_id=mid, edge_id="edge-a", at=time.time(),
                                    participant_id="p1", track_id="t1", kind="audio", source="mic")
        # Two control planes applying the same event at once: it is applied once.
        assert sorted(await asyncio.gather(apply_event(db, event), apply_event(db, event))) == [False, True]
        assert await apply_event(db, track) and await apply_event(db, track) is False
        assert [r["participant_id"] for r in await roster.roster(db, mid)] == ["p1"]
        assert [r["track_id"] for r in await roster.tracks(db, mid)] == ["t1"]
        assert await roster.meetings_to_rehome(db, "edge-a") == [mid]
        assert (await meetings.get(mid))["state"] == "live"
    finally:
        await db.close()


async def test_a_large_purge_goes_in_batches_on_postgres(url: str) -> None:
    db = await pg.open_postgres(url)
    try:
        async with db.transaction() as conn:
            await conn.executemany("INSERT INTO applied_events (event_id, meeting_id, kind, applied_at) VALUES (?, ?, ?, ?)",
                                   [(f"pg{i}", "m", "joined", float(i)) for i in range(1100)])
        assert await db.delete_in_batches("applied_events", "event_id", "applied_at < ? AND event_id LIKE 'pg%'",
                                          (1000.0,), batch=400) == 1000
        left = await db.fetch_all("SELECT event_id FROM applied_events WHERE event_id LIKE 'pg%'")
        assert sorted(r["event_id"] for r in left) == sorted(f"pg{i}" for i in range(1000, 1100))
    finally:
        await db.close()


async def test_guessing_limits_and_oidc_state_are_shared(url: str) -> None:
    one, two = await pg.open_postgres(url), await pg.open_postgres(url)
    try:
        limits = [StoredLoginLimiter(db, per_account=3, per_address=100, window=60) for db in (one, two)]
        for i in range(3):
            await limits[i % 2].check_login("Bob", "192.0.2.1")
            await limits[i % 2].failed("Bob", "192.0.2.1")
        for limiter in limits:
            with pytest.raises(TooManyRequestsException) as refused:
                await limiter.check_login("bob", "192.0.2.9")
            assert 1 <= int(refused.value.headers["Retry-After"]) <= 61
        await limits[0].succeeded("bob", "192.0.2.1")
        await limits[1].check_login("bob", "192.0.2.1")
        guesses = [StoredGuessLimiter(db, per_meeting_address=2, window=60) for db in (one, two)]
        await guesses[0].failed("m1", "192.0.2.1")
        await guesses[1].failed("m1", "192.0.2.1")
        with pytest.raises(TooManyRequestsException):
            await guesses[0].check("m1", "192.0.2.1")
        await guesses[1].check("m1", "192.0.2.2")                         # another address
        await guesses[1].check("m2", "192.0.2.1")                         # another meeting

        pending = Pending("test", "browser-hash", "nonce", "verifier", "/next", time.time() + 600)
        await StateStore(one).put("the-state", pending, "192.0.2.1")
        taken = await StateStore(two).take("the-state")
        assert taken is not None and taken.code_verifier == "verifier" and taken.next_path == "/next"
        assert await StateStore(one).take("the-state") is None            # used once
    finally:
        await one.close()
        await two.close()


async def test_one_control_plane_at_a_time_reads_the_events(url: str) -> None:
    one, two = await pg.open_postgres(url), await pg.open_postgres(url)
    try:
        assert await one.leader("events") and await one.leader("events")
        assert not await two.leader("events")
        await one.close()                                                  # its session ends
        assert await two.leader("events")
    finally:
        await one.close()
        await two.close()


async def test_an_unreachable_server_is_database_unavailable(tmp_path: Path) -> None:
    require(postgres_available(), "PostgreSQL (apt-get install postgresql)")
    server = Postgres(tmp_path).start()
    try:
        db = await pg.open_postgres(server.url())
        try:
            with pytest.raises(asyncpg.DataError):                     # a bug is not an outage
                await db.fetch_one("SELECT 1 FROM schema_migrations WHERE version = ?", ("one",))
            server.stop()
            assert not await db.ping()
            with pytest.raises(DatabaseUnavailable):
                await db.fetch_one("SELECT 1")
            with pytest.raises(DatabaseUnavailable):
                async with db.transaction() as conn:
                    await conn.execute("SELECT 1")
            server.start()
            assert (await db.fetch_one("SELECT 1 AS one"))["one"] == 1  # the pool reconnects
            assert await db.ping()
        finally:
            await db.close()
    finally:
        server.cleanup()


async def test_many_writers_and_reads_inside_transactions_do_not_exhaust_the_pool(url: str) -> None:
    db = await pg.open_postgres(url, pool_size=2)
    try:
        accounts = AccountRepository(db)

        async def write(i: int) -> None:
            async with db.transaction() as conn:
                await accounts.insert(conn, username=f"user{i}", display_name="U", role="member", source="local")
                await accounts.by_username("nobody")          # a read on the pool, inside the transaction

        async with asyncio.timeout(20):
            await asyncio.gather(*(write(i) for i in range(20)))
        assert (await db.fetch_one("SELECT COUNT(*) AS n FROM accounts"))["n"] == 20
    finally:
        await db.close()
