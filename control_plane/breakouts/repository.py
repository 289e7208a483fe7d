"""SQL for breakout rooms (migration 0018): the sets, their rooms and seats. Every statement is parameterised."""

from __future__ import annotations

import uuid
from typing import Any

from ..db import Connection, Database, Row

_SET = "id, meeting_id, state, allow_choose, created_by, created_at, ends_at, closed_at, close_reason"


async def open_set(db: Database, meeting_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {_SET} FROM breakouts WHERE meeting_id = ? AND state = 'open'", (meeting_id,))


async def latest_set(db: Database, meeting_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {_SET} FROM breakouts WHERE meeting_id = ? ORDER BY created_at DESC LIMIT 1",
                              (meeting_id,))


async def insert_set(conn: Connection, meeting_id: str, *, allow_choose: bool, by: str, at: float,
                     ends_at: float | None) -> str:
    breakout_id = uuid.uuid4().hex
    await conn.execute("INSERT INTO breakouts (id, meeting_id, allow_choose, created_by, created_at, ends_at)"
                       " VALUES (?, ?, ?, ?, ?, ?)", (breakout_id, meeting_id, int(allow_choose), by, at, ends_at))
    return breakout_id


async def insert_room(conn: Connection, breakout_id: str, room_id: str, position: int, name: str) -> None:
    await conn.execute("INSERT INTO breakout_rooms (breakout_id, room_id, position, name) VALUES (?, ?, ?, ?)",
                       (breakout_id, room_id, position, name))


async def insert_seat(conn: Connection, breakout_id: str, seat: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO breakout_seats (breakout_id, participant_id, account_id, display_name, role, region, room_id,"
        " ticket_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (breakout_id, seat["participant_id"], seat["account_id"], seat["display_name"], seat["role"],
         seat["region"], seat["room_id"], seat["ticket_hash"]))


async def main_meeting(db: Database, breakout_id: str) -> str:
    """The meeting a set of rooms was opened from."""
    row = await db.fetch_one("SELECT meeting_id FROM breakouts WHERE id = ?", (breakout_id,))
    assert row is not None  # a set is never deleted
    return str(row["meeting_id"])


async def rooms(db: Database, breakout_id: str) -> list[Row]:
    return await db.fetch_all("SELECT room_id, name FROM breakout_rooms WHERE breakout_id = ? ORDER BY position",
                              (breakout_id,))


async def seats(db: Database, breakout_id: str) -> list[Row]:
    return await db.fetch_all("SELECT participant_id, account_id, display_name, role, region, room_id"
                              " FROM breakout_seats WHERE breakout_id = ? ORDER BY display_name, participant_id",
                              (breakout_id,))


async def seat_by_ticket(db: Database, ticket_hash: str) -> Row | None:
    return await db.fetch_one(
        "SELECT s.breakout_id, s.participant_id, s.account_id, s.display_name, s.role, s.region, s.room_id,"
        " b.meeting_id, b.state, b.allow_choose, b.ends_at FROM breakout_seats s JOIN breakouts b"
        " ON b.id = s.breakout_id WHERE s.ticket_hash = ?", (ticket_hash,))


async def set_seat_room(db: Database, breakout_id: str, participant_id: str, room_id: str) -> None:
    await db.execute("UPDATE breakout_seats SET room_id = ? WHERE breakout_id = ? AND participant_id = ?",
                     (room_id, breakout_id, participant_id))


async def close_set(conn: Connection, breakout_id: str, *, at: float, reason: str) -> bool:
    """Mark the set closed; False when it was closed already (by another request or control plane)."""
    cur = await conn.execute("UPDATE breakouts SET state = 'closed', closed_at = ?, close_reason = ?"
                             " WHERE id = ? AND state = 'open'", (at, reason, breakout_id))
    return cur.rowcount == 1


async def due_sets(db: Database, now: float) -> list[Row]:
    return await db.fetch_all(f"SELECT {_SET} FROM breakouts WHERE state = 'open' AND ends_at IS NOT NULL"
                              " AND ends_at <= ?", (now,))


async def next_due(db: Database) -> float | None:
    row = await db.fetch_one("SELECT MIN(ends_at) AS at FROM breakouts WHERE state = 'open' AND ends_at IS NOT NULL")
    return row["at"] if row and row["at"] is not None else None


async def rooms_to_end(db: Database, closed_before: float) -> list[Row]:
    """Rooms of sets closed before *closed_before* whose meetings have not ended yet."""
    return await db.fetch_all(
        "SELECT r.room_id, b.closed_at FROM breakout_rooms r JOIN breakouts b ON b.id = r.breakout_id"
        " JOIN meetings m ON m.id = r.room_id WHERE b.state = 'closed' AND m.state != 'ended'"
        " AND b.closed_at <= ?", (closed_before,))


async def next_room_end(db: Database) -> float | None:
    """The earliest close of a set whose rooms have not all ended."""
    row = await db.fetch_one(
        "SELECT MIN(b.closed_at) AS at FROM breakout_rooms r JOIN breakouts b ON b.id = r.breakout_id"
        " JOIN meetings m ON m.id = r.room_id WHERE b.state = 'closed' AND m.state != 'ended'")
    return row["at"] if row and row["at"] is not None else None


async def account_roles(db: Database, account_ids: list[str]) -> dict[str, str]:
    """Account id → role, for the accounts that exist and are not disabled."""
    if not account_ids:
        return {}
    marks = ", ".join("?" for _ in account_ids)
    rows = await db.fetch_all(f"SELECT id, role FROM accounts WHERE disabled = 0 AND id IN ({marks})",
                              tuple(account_ids))
    return {r["id"]: r["role"] for r in rows}
