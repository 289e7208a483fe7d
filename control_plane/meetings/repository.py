"""SQL for meetings, co-hosts and promoted moderators. Every statement is parameterised."""

from __future__ import annotations

import uuid
from typing import Any

from ..db import Connection, Database, Row

_COLUMNS = ("id, owner_id, title, description, time_zone, start_local, end_local, start_utc, end_utc, recurrence,"
            " series_end_utc, password_hash, lobby, allow_guests, max_participants, publish_policy, locked, state,"
            " parent_id,"
            " started_at, ended_at, empty_since, recording_since, auto_record, e2ee, sequence, created_at, updated_at")
_UPDATABLE = {"title", "description", "time_zone", "start_local", "end_local", "start_utc", "end_utc", "recurrence",
              "series_end_utc", "password_hash", "lobby", "allow_guests", "max_participants", "publish_policy",
              "locked", "auto_record", "e2ee", "sequence"}


class MeetingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, meeting_id: str) -> Row | None:
        return await self.db.fetch_one(f"SELECT {_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,))

    async def insert(self, conn: Connection, fields: dict[str, Any]) -> str:
        meeting_id = uuid.uuid4().hex
        cols = ["id", *fields]
        await conn.execute(f"INSERT INTO meetings ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                           (meeting_id, *fields.values()))
        return meeting_id

    async def update(self, conn: Connection, meeting_id: str, fields: dict[str, Any]) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        if not fields:
            return
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        await conn.execute(
            f"UPDATE meetings SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = :_id",
            {**fields, "_id": meeting_id})

    async def delete(self, conn: Connection, meeting_id: str) -> int:
        cur = await conn.execute("DELETE FROM meetings WHERE id = ?", (meeting_id,))
        return cur.rowcount

    async def list_for(self, account_id: str, *, state: str | None = None, limit: int = 200) -> list[Row]:
        """Meetings *account_id* owns or co-hosts (optionally in one state), by start time."""
        sql = (f"SELECT {_COLUMNS} FROM meetings WHERE parent_id IS NULL AND (owner_id = ? OR id IN"
               " (SELECT meeting_id FROM meeting_cohosts WHERE account_id = ?))")
        params: list[Any] = [account_id, account_id]
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        sql += " ORDER BY start_utc IS NULL, start_utc, created_at LIMIT ?"
        return await self.db.fetch_all(sql, (*params, limit))

    async def list_in_state(self, state: str, limit: int = 500) -> list[Row]:
        """Meetings in *state* (breakout rooms are part of their main meeting: not listed)."""
        return await self.db.fetch_all(f"SELECT {_COLUMNS} FROM meetings WHERE state = ? AND parent_id IS NULL"
                                       " ORDER BY started_at LIMIT ?", (state, limit))

    # -- co-hosts and moderators -----------------------------------------------------------------
    async def cohosts(self, meeting_id: str) -> list[Row]:
        return await self.db.fetch_all(
            "SELECT a.id, a.username, a.display_name FROM meeting_cohosts c JOIN accounts a ON a.id = c.account_id"
            " WHERE c.meeting_id = ? ORDER BY a.username", (meeting_id,))

    async def set_cohosts(self, conn: Connection, meeting_id: str, account_ids: list[str]) -> None:
        await conn.execute("DELETE FROM meeting_cohosts WHERE meeting_id = ?", (meeting_id,))
        await conn.executemany("INSERT INTO meeting_cohosts (meeting_id, account_id) VALUES (?, ?)",
                               [(meeting_id, a) for a in account_ids])

    async def is_cohost(self, meeting_id: str, account_id: str) -> bool:
        row = await self.db.fetch_one("SELECT 1 FROM meeting_cohosts WHERE meeting_id = ? AND account_id = ?",
                                      (meeting_id, account_id))
        return row is not None

    async def is_moderator(self, meeting_id: str, account_id: str) -> bool:
        row = await self.db.fetch_one("SELECT 1 FROM meeting_moderators WHERE meeting_id = ? AND account_id = ?",
                                      (meeting_id, account_id))
        return row is not None

    async def add_moderator(self, meeting_id: str, account_id: str, by: str, at: float) -> None:
        await self.db.execute(
            "INSERT OR IGNORE INTO meeting_moderators (meeting_id, account_id, promoted_by, promoted_at)"
            " VALUES (?, ?, ?, ?)", (meeting_id, account_id, by, at))

    async def accounts_by_username(self, usernames: list[str]) -> dict[str, Row]:
        if not usernames:
            return {}
        marks = ", ".join("?" for _ in usernames)
        rows = await self.db.fetch_all(
            f"SELECT id, username, display_name, disabled FROM accounts WHERE username IN ({marks})",
            tuple(usernames))
        return {r["username"].lower(): r for r in rows}

    async def account(self, account_id: str) -> Row | None:
        return await self.db.fetch_one("SELECT id, username, display_name FROM accounts WHERE id = ?", (account_id,))

    # -- lifecycle -------------------------------------------------------------------------------
    async def set_state(self, conn: Connection, meeting_id: str, state: str, at: float) -> None:
        if state == "live":
            await conn.execute("UPDATE meetings SET state = 'live', started_at = ?, ended_at = NULL,"
                               " empty_since = ? WHERE id = ? AND state = 'scheduled'", (at, at, meeting_id))
        elif state == "ended":
            await conn.execute("UPDATE meetings SET state = 'ended', ended_at = ?, empty_since = NULL"
                               " WHERE id = ? AND state != 'ended'", (at, meeting_id))
        else:
            await conn.execute("UPDATE meetings SET state = 'scheduled', started_at = NULL, ended_at = NULL,"
                               " empty_since = NULL WHERE id = ?", (meeting_id,))
