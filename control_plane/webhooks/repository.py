"""SQL for the webhook deliveries (``webhook_deliveries``). Every statement is parameterised."""

from __future__ import annotations

from collections.abc import Sequence

from ..db import Database, Row

_COLUMNS = ("webhook_id, endpoint, event_type, meeting_id, body, status, attempts, created_at, next_attempt_at,"
            " last_attempt_at, delivered_at, last_status, last_error")


class DeliveryRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def applied_event(self, event_id: str) -> Row | None:
        """The control plane's record of having applied (accepted) the event *event_id*: its
        ``meeting_id`` and ``kind``; None while it has not."""
        return await self.db.fetch_one("SELECT meeting_id, kind FROM applied_events WHERE event_id = ?", (event_id,))

    async def meeting_times(self, meeting_id: str) -> Row | None:
        """The meeting's ``started_at`` and ``ended_at`` (set from the event that started or ended it)."""
        return await self.db.fetch_one("SELECT started_at, ended_at FROM meetings WHERE id = ?", (meeting_id,))

    async def enqueue(self, webhook_id: str, event_type: str, meeting_id: str, body: str,
                      endpoints: Sequence[str], now: float) -> int:
        """Queue *body* for each of *endpoints* (once: a message taken in again changes nothing);
        returns how many deliveries are new."""
        added = 0
        async with self.db.transaction() as conn:
            for endpoint in endpoints:
                cur = await conn.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (webhook_id, endpoint, event_type, meeting_id, body,"
                    " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (webhook_id, endpoint, event_type, meeting_id, body, now, now))
                added += max(cur.rowcount, 0)
        return added

    async def due(self, endpoint: str, now: float, limit: int = 20) -> list[Row]:
        return await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE endpoint = ? AND status = 'pending'"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?", (endpoint, now, limit))

    async def next_due(self, endpoint: str) -> float | None:
        row = await self.db.fetch_one("SELECT MIN(next_attempt_at) AS at FROM webhook_deliveries"
                                      " WHERE endpoint = ? AND status = 'pending'", (endpoint,))
        return None if row is None or row["at"] is None else float(row["at"])

    async def delivered(self, endpoint: str, webhook_id: str, now: float, status: int) -> None:
        await self.db.execute(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ?,"
            " delivered_at = ?, last_status = ?, last_error = '' WHERE endpoint = ? AND webhook_id = ?",
            (now, now, status, endpoint, webhook_id))

    async def attempt_failed(self, endpoint: str, webhook_id: str, now: float, status: int | None, error: str,
                             next_attempt_at: float | None) -> None:
        """Record a failed attempt: retried at *next_attempt_at*, or ``failed`` for good when None."""
        await self.db.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?,"
            " next_attempt_at = ?, last_status = ?, last_error = ? WHERE endpoint = ? AND webhook_id = ?",
            ("pending" if next_attempt_at is not None else "failed", now,
             next_attempt_at if next_attempt_at is not None else now, status, error[:500], endpoint, webhook_id))

    async def abandon_unknown(self, endpoints: Sequence[str], now: float) -> int:
        """Mark pending deliveries to endpoints no longer configured as failed."""
        marks = ", ".join("?" for _ in endpoints) or "''"
        return await self.db.execute(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint no longer configured',"
            f" last_attempt_at = ? WHERE status = 'pending' AND endpoint NOT IN ({marks})", (now, *endpoints))

    async def prune(self, before: float) -> int:
        return await self.db.execute("DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < ?",
                                     (before,))

    async def listing(self, *, endpoint: str = "", status: str = "", event_type: str = "",
                      limit: int = 100) -> list[Row]:
        where, args = [], []
        for column, value in (("endpoint", endpoint), ("status", status), ("event_type", event_type)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return await self.db.fetch_all(f"SELECT {_COLUMNS} FROM webhook_deliveries{clause}"
                                       " ORDER BY created_at DESC, endpoint LIMIT ?", (*args, limit))
