"""SQL for the roster (who is in a meeting now), their tracks, attendance and applied events.

Every function takes the connection of the caller's transaction, so an event is applied whole.
"""

from __future__ import annotations

from ..db import Connection, Database, Row

ROSTER_COLUMNS = ("participant_id, account_id, display_name, role, edge_id, lobby, audio_muted, video_muted,"
                  " screen_muted, waiting_since, joined_at, lost_at")


async def mark_applied(conn: Connection, event_id: str, meeting_id: str, kind: str, at: float) -> bool:
    """Record *event_id*; False if it was applied before (the caller then changes nothing)."""
    cur = await conn.execute("INSERT OR IGNORE INTO applied_events (event_id, meeting_id, kind, applied_at)"
                             " VALUES (?, ?, ?, ?)", (event_id, meeting_id, kind, at))
    return cur.rowcount == 1


async def meeting_state(conn: Connection, meeting_id: str) -> str | None:
    cur = await conn.execute("SELECT state FROM meetings WHERE id = ?", (meeting_id,))
    row = await cur.fetchone()
    return row[0] if row else None


async def upsert_waiting(conn: Connection, meeting_id: str, pid: str, *, account_id: str,
                         display_name: str, edge_id: str, at: float) -> None:
    await conn.execute(
        "INSERT INTO roster (meeting_id, participant_id, account_id, display_name, role, edge_id, lobby,"
        " waiting_since) VALUES (?, ?, ?, ?, 'guest', ?, 1, ?) ON CONFLICT (meeting_id, participant_id) DO NOTHING",
        (meeting_id, pid, account_id, display_name, edge_id, at))


async def upsert_joined(conn: Connection, meeting_id: str, pid: str, *, account_id: str,
                        display_name: str, role: str, edge_id: str, at: float) -> None:
    await conn.execute(
        "INSERT INTO roster (meeting_id, participant_id, account_id, display_name, role, edge_id, lobby, joined_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (meeting_id, participant_id) DO UPDATE SET"
        " account_id = excluded.account_id, display_name = excluded.display_name, role = excluded.role,"
        " edge_id = excluded.edge_id, lobby = 0, joined_at = excluded.joined_at, lost_at = NULL,"
        " lost_edge_started = NULL",
        (meeting_id, pid, account_id, display_name, role, edge_id, at))
    await conn.execute(
        "INSERT INTO attendance (meeting_id, participant_id, account_id, display_name, role, edge_id, joined_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (meeting_id, pid, account_id, display_name, role, edge_id, at))


async def remove(conn: Connection, meeting_id: str, pid: str, *, at: float, reason: str) -> None:
    await conn.execute("DELETE FROM roster WHERE meeting_id = ? AND participant_id = ?", (meeting_id, pid))
    await conn.execute("UPDATE attendance SET left_at = ?, left_reason = ? WHERE meeting_id = ?"
                       " AND participant_id = ? AND left_at IS NULL", (at, reason, meeting_id, pid))


async def close_roster(conn: Connection, meeting_id: str, at: float, reason: str) -> None:
    """Everyone leaves (the meeting ended): the roster empties and open attendance closes."""
    await conn.execute("DELETE FROM roster WHERE meeting_id = ?", (meeting_id,))
    await conn.execute("UPDATE attendance SET left_at = ?, left_reason = ? WHERE meeting_id = ? AND left_at IS NULL",
                       (at, reason, meeting_id))


async def present_count(conn: Connection, meeting_id: str) -> int:
    """Participants in the meeting: not in the lobby, not lost with their edge."""
    cur = await conn.execute("SELECT COUNT(*) FROM roster WHERE meeting_id = ? AND lobby = 0 AND lost_at IS NULL",
                             (meeting_id,))
    return (await cur.fetchone())[0]


async def mark_lost(conn: Connection, edge_id: str, at: float, edge_started: float | None,
                    moved_since: float | None = None) -> list[str]:
    """Mark the participants on *edge_id* lost; returns the meetings left with nobody present.

    With *moved_since*, a participant whose account has joined the same meeting on another edge
    since then has moved there (its client reconnected elsewhere before the edge was noticed
    gone): it is removed with reason ``moved`` instead, one for each such newcomer."""
    cur = await conn.execute("SELECT DISTINCT meeting_id FROM roster WHERE edge_id = ? AND lost_at IS NULL",
                             (edge_id,))
    meetings = [r[0] for r in await cur.fetchall()]
    if moved_since is not None:
        cur = await conn.execute("SELECT meeting_id, participant_id FROM roster WHERE edge_id = ? AND lost_at IS NULL"
                                 " ORDER BY joined_at", (edge_id,))
        taken: set[tuple[str, str]] = set()
        for meeting_id, pid in await cur.fetchall():
            newcomer = await _newcomer(conn, meeting_id, pid, moved_since, taken)
            if newcomer is not None:
                taken.add((meeting_id, newcomer[0]))
                await remove(conn, meeting_id, pid, at=min(at, newcomer[1]), reason="moved")
    await conn.execute("UPDATE roster SET lost_at = ?, lost_edge_started = ? WHERE edge_id = ? AND lost_at IS NULL",
                       (at, edge_started, edge_id))
    emptied = []
    for meeting_id in meetings:
        if await present_count(conn, meeting_id) == 0:
            await conn.execute("UPDATE meetings SET empty_since = ? WHERE id = ? AND state = 'live'"
                               " AND empty_since IS NULL", (at, meeting_id))
            emptied.append(meeting_id)
    return emptied


async def _newcomer(conn: Connection, meeting_id: str, pid: str, since: float,
                    taken: set[tuple[str, str]]) -> tuple[str, float] | None:
    cur = await conn.execute(
        "SELECT new.participant_id, new.joined_at FROM roster old JOIN roster new ON new.meeting_id = old.meeting_id"
        " AND new.account_id = old.account_id AND new.edge_id != old.edge_id AND new.lost_at IS NULL"
        " AND new.lobby = 0 AND new.joined_at >= ? WHERE old.meeting_id = ? AND old.participant_id = ?"
        " ORDER BY new.joined_at", (since, meeting_id, pid))
    for new_pid, joined_at in await cur.fetchall():
        if (meeting_id, new_pid) not in taken:
            return new_pid, joined_at
    return None


async def supersede_lost(conn: Connection, meeting_id: str, pid: str, account_id: str, at: float) -> None:
    """*pid* joined: one lost participant of the same account in the meeting (on another edge) has
    moved here — removed with reason ``moved``, as of its loss."""
    cur = await conn.execute(
        "SELECT participant_id, lost_at FROM roster WHERE meeting_id = ? AND account_id = ? AND participant_id != ?"
        " AND lost_at IS NOT NULL AND edge_id != (SELECT edge_id FROM roster WHERE meeting_id = ? AND"
        " participant_id = ?) ORDER BY lost_at, joined_at LIMIT 1", (meeting_id, account_id, pid, meeting_id, pid))
    row = await cur.fetchone()
    if row is not None:
        await remove(conn, meeting_id, row[0], at=min(row[1], at), reason="moved")


async def meetings_to_rehome(db: Database, edge_id: str) -> list[str]:
    """Meetings with anyone in the roster, those with participants on *edge_id* first."""
    rows = await db.fetch_all("SELECT meeting_id FROM roster GROUP BY meeting_id"
                              " ORDER BY MAX(CASE WHEN edge_id = ? THEN 1 ELSE 0 END) DESC, meeting_id", (edge_id,))
    return [r["meeting_id"] for r in rows]


async def lost(conn: Connection) -> list[Row]:
    cur = await conn.execute("SELECT meeting_id, participant_id, edge_id, lost_at, lost_edge_started FROM roster"
                             " WHERE lost_at IS NOT NULL")
    return list(await cur.fetchall())


async def restore(conn: Connection, meeting_id: str, pid: str) -> None:
    await conn.execute("UPDATE roster SET lost_at = NULL, lost_edge_started = NULL WHERE meeting_id = ?"
                       " AND participant_id = ?", (meeting_id, pid))
    await conn.execute("UPDATE meetings SET empty_since = NULL WHERE id = ?", (meeting_id,))


async def edges_in_use(conn: Connection) -> set[str]:
    cur = await conn.execute("SELECT DISTINCT edge_id FROM roster WHERE lost_at IS NULL")
    return {r[0] for r in await cur.fetchall()}


async def set_muted(conn: Connection, meeting_id: str, pid: str, kind: str, muted: bool) -> None:
    column = {"audio": "audio_muted", "video": "video_muted", "screen": "screen_muted"}.get(kind)
    if column is None:
        return
    await conn.execute(f"UPDATE roster SET {column} = ? WHERE meeting_id = ? AND participant_id = ?",
                       (int(muted), meeting_id, pid))


async def add_track(conn: Connection, meeting_id: str, pid: str, track_id: str, kind: str, source: str,
                    at: float) -> None:
    cur = await conn.execute("SELECT 1 FROM roster WHERE meeting_id = ? AND participant_id = ?", (meeting_id, pid))
    if await cur.fetchone() is None:
        return
    await conn.execute(
        "INSERT INTO roster_tracks (meeting_id, participant_id, track_id, kind, source, published_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meeting_id, participant_id, track_id) DO UPDATE SET"
        " kind = excluded.kind, source = excluded.source, published_at = excluded.published_at",
        (meeting_id, pid, track_id, kind, source, at))


async def remove_track(conn: Connection, meeting_id: str, pid: str, track_id: str) -> None:
    await conn.execute("DELETE FROM roster_tracks WHERE meeting_id = ? AND participant_id = ? AND track_id = ?",
                       (meeting_id, pid, track_id))


async def prune_applied(db: Database, before: float) -> int:
    """Forget applied events older than *before* (a day's worth can be many: in batches)."""
    return await db.delete_in_batches("applied_events", "event_id", "applied_at < ?", (before,))


# -- reading ------------------------------------------------------------------------------------
async def roster(db: Database, meeting_id: str) -> list[Row]:
    return await db.fetch_all(f"SELECT {ROSTER_COLUMNS} FROM roster WHERE meeting_id = ?"
                              " ORDER BY lobby, COALESCE(joined_at, waiting_since), participant_id", (meeting_id,))


async def tracks(db: Database, meeting_id: str) -> list[Row]:
    return await db.fetch_all("SELECT participant_id, track_id, kind, source FROM roster_tracks WHERE meeting_id = ?"
                              " ORDER BY published_at, track_id", (meeting_id,))


async def participant(db: Database, meeting_id: str, pid: str) -> Row | None:
    return await db.fetch_one(f"SELECT {ROSTER_COLUMNS} FROM roster WHERE meeting_id = ? AND participant_id = ?",
                              (meeting_id, pid))


async def count_in(db: Database, meeting_id: str) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM roster WHERE meeting_id = ?", (meeting_id,))
    return row["n"] if row else 0


async def attendance(db: Database, meeting_id: str) -> list[Row]:
    return await db.fetch_all(
        "SELECT participant_id, account_id, display_name, role, edge_id, joined_at, left_at, left_reason"
        " FROM attendance WHERE meeting_id = ? ORDER BY joined_at, id", (meeting_id,))
