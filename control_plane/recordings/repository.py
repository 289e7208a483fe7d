"""SQL for recordings. Every statement is parameterised."""

from __future__ import annotations

from ..db import Database, Row, integrity_errors

_COLUMNS = "id, meeting_id, state, recorder_id, started_by, started_at, stopped_at, reason, error"


class RecordingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, recording_id: str) -> Row | None:
        return await self.db.fetch_one(f"SELECT {_COLUMNS} FROM recordings WHERE id = ?", (recording_id,))

    async def active(self, meeting_id: str) -> Row | None:
        return await self.db.fetch_one(f"SELECT {_COLUMNS} FROM recordings"
                                       " WHERE meeting_id = ? AND state = 'recording'", (meeting_id,))

    async def of_meeting(self, meeting_id: str) -> list[Row]:
        return await self.db.fetch_all(f"SELECT {_COLUMNS} FROM recordings WHERE meeting_id = ?"
                                       " ORDER BY started_at DESC", (meeting_id,))

    async def insert(self, recording_id: str, meeting_id: str, started_by: str, now: float) -> bool:
        """Add a recording being written; False when the meeting already has one."""
        try:
            await self.db.execute("INSERT INTO recordings (id, meeting_id, state, started_by, started_at)"
                                  " VALUES (?, ?, 'recording', ?, ?)", (recording_id, meeting_id, started_by, now))
        except integrity_errors():
            return False
        return True

    async def recent(self, *, limit: int, meeting_id: str = "") -> list[Row]:
        """Recordings newest first (of one meeting when *meeting_id*)."""
        if meeting_id:
            return await self.db.fetch_all("SELECT * FROM recordings WHERE meeting_id = ?"
                                           " ORDER BY started_at DESC LIMIT ?", (meeting_id, limit))
        return await self.db.fetch_all("SELECT * FROM recordings ORDER BY started_at DESC LIMIT ?", (limit,))

    async def set_recorder(self, recording_id: str, recorder_id: str) -> None:
        await self.db.execute("UPDATE recordings SET recorder_id = ? WHERE id = ?", (recorder_id, recording_id))

    async def finish(self, recording_id: str, now: float, *, reason: str, error: str = "") -> bool:
        """Mark a recording no longer written (``failed`` with an error); False when it was not."""
        state = "failed" if error else "stopped"
        changed = await self.db.execute("UPDATE recordings SET state = ?, stopped_at = ?, reason = ?, error = ?"
                                        " WHERE id = ? AND state = 'recording'",
                                        (state, now, reason[:500], error[:500], recording_id))
        return changed > 0

    async def delete(self, recording_id: str) -> bool:
        """Remove a finished recording's row; False when it is being written (or gone)."""
        return await self.db.execute("DELETE FROM recordings WHERE id = ? AND state != 'recording'",
                                     (recording_id,)) > 0

    async def started_since(self, meeting_id: str, since: float) -> bool:
        """Has a recording of *meeting_id* started at or after *since*?"""
        return await self.db.fetch_one("SELECT 1 FROM recordings WHERE meeting_id = ? AND started_at >= ?",
                                       (meeting_id, since)) is not None

    async def expired(self, before: float) -> list[Row]:
        return await self.db.fetch_all(f"SELECT {_COLUMNS} FROM recordings WHERE state != 'recording'"
                                       " AND stopped_at < ?", (before,))
