"""The empty-meeting sweeper and what happens when an edge is lost.

Every ``meetings.sweep_interval`` seconds, a live meeting that has had nobody in it (the lobby
does not count) for ``meetings.empty_timeout`` seconds is ended: its home edge is told
(:class:`nodes.wire.EndMeeting`, best effort) and the meeting is marked ended. When an edge leaves
the registry (it stopped, or missed three heartbeats), its participants are taken off the
rosters (``left_reason`` "edge_lost"), so their meetings can become empty and end.
Applied-event ids older than the events stream keeps them are pruned once an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nodes.streams import EVENTS_MAX_AGE

from ..db import Database
from ..events import repository as roster
from .commands import CommandService
from .service import MeetingService

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(self, db: Database, meetings: MeetingService, commands: CommandService, *,
                 empty_timeout: float, interval: float) -> None:
        self.db = db
        self.meetings = meetings
        self.commands = commands
        self.empty_timeout = empty_timeout
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._last_prune = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="meeting-sweeper")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._pending) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping
                log.exception("meeting sweep failed")

    async def sweep(self, now: float | None = None) -> list[str]:
        """End the meetings that stayed empty too long; returns their ids."""
        now = now if now is not None else time.time()
        rows = await self.db.fetch_all(
            "SELECT id FROM meetings WHERE state = 'live' AND empty_since IS NOT NULL AND empty_since <= ?",
            (now - self.empty_timeout,))
        ended = []
        for row in rows:
            await self.commands.end_quietly(row["id"], reason="the meeting was empty")
            await self.meetings.mark_ended(row["id"], reason="empty")
            ended.append(row["id"])
        if now - self._last_prune > 3600:
            self._last_prune = now
            await roster.prune_applied(self.db, now - EVENTS_MAX_AGE - 86400)
        return ended

    def edge_left(self, edge_id: str, why: str) -> None:
        """Registry listener: take the lost edge's participants off the rosters."""
        task = asyncio.get_running_loop().create_task(self._edge_lost(edge_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _edge_lost(self, edge_id: str) -> None:
        now = time.time()
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT meeting_id, participant_id FROM roster WHERE edge_id = ?", (edge_id,))
            people = list(await cur.fetchall())
            for meeting_id, pid in people:
                await roster.remove(conn, meeting_id, pid, at=now, reason="edge_lost")
            for meeting_id in {m for m, _ in people}:
                if await roster.present_count(conn, meeting_id) == 0:
                    await conn.execute("UPDATE meetings SET empty_since = ? WHERE id = ? AND state = 'live'"
                                       " AND empty_since IS NULL", (now, meeting_id))
        if people:
            log.info("participants of a lost edge removed", extra={"edge_id": edge_id, "count": len(people)})
