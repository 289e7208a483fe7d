"""The meeting sweeper: empty meetings end; participants of a lost edge are lost, then gone.

Every ``meetings.sweep_interval`` seconds, while the control plane is connected to NATS:

1. Participants whose edge left the registry are **lost** (shown as such in the roster, not
   counted as present). When the same edge instance (same ``started_at``) heartbeats again they
   are restored; when the edge restarted, or stayed away longer than ``meetings.empty_timeout``,
   they are removed and their attendance closes at the time of the loss (``edge_lost``). One whose
   account joined the meeting on another edge shortly before (two registry TTLs) or after the loss
   has moved there: removed at once (``moved``). An edge
   leaving the registry — or heartbeating as a new instance, restarted before the registry dropped
   it — marks its participants lost at once; the sweeper also catches edges that
   died while this control plane was not watching (after a grace of two registry TTLs).
2. A live meeting with nobody present for ``meetings.empty_timeout`` seconds is ended: its home
   edge is told (:class:`nodes.wire.EndMeeting`, best effort) and the meeting is marked ended.

While NATS is unreachable the control plane sees no heartbeats and no events, so it changes
nothing: an outage on its side never ends meetings. Applied-event ids older than the events
stream keeps them are pruned once an hour. Control planes sharing a PostgreSQL sweep one at a time:
the one holding the database's ``sweeps`` lock (:meth:`control_plane.db.Database.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nodes.bus import Bus
from nodes.streams import EVENTS_MAX_AGE

from ..db import Database, DatabaseUnavailable
from ..edges.registry import EdgeRegistry
from ..events import repository as roster
from .commands import CommandService
from .service import MeetingService

log = logging.getLogger(__name__)


#: ``started_at`` recorded for participants of an edge instance known only to be gone (it restarted
#: before this control plane noted when it had started): no live instance ever matches it.
GONE_INSTANCE = -1.0


class Lifecycle:
    def __init__(self, db: Database, meetings: MeetingService, commands: CommandService, bus: Bus,
                 edges: EdgeRegistry, *, empty_timeout: float, interval: float) -> None:
        self.db, self.meetings, self.commands, self.bus, self.edges = db, meetings, commands, bus, edges
        self.empty_timeout = empty_timeout
        self.interval = interval
        self.grace = 2 * edges.ttl
        self._connected_since: float | None = None
        self._started: dict[str, float] = {}  # edge id -> started_at of the instance last seen
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
                # Control planes side by side on one PostgreSQL: one of them sweeps (each keeps
                # the edges' start times, which marking an edge's participants lost records).
                self._started.update({e.heartbeat.edge_id: e.heartbeat.started_at for e in self.edges.live()})
                if await self.db.leader("sweeps"):
                    await self.sweep()
            except DatabaseUnavailable as exc:  # an outage: the next sweep after it catches up
                log.warning("meeting sweep skipped: database unavailable", extra={"error": str(exc)})
            except Exception:  # noqa: BLE001 - keep sweeping
                log.exception("meeting sweep failed")

    def _watching(self, now: float) -> bool:
        if not self.bus.connected:
            self._connected_since = None
            return False
        if self._connected_since is None:
            self._connected_since = now
        return True

    async def sweep(self, now: float | None = None) -> list[str]:
        """One pass (see the module docstring); returns the ids of the meetings it ended."""
        now = now if now is not None else time.time()
        if not self._watching(now):
            return []
        live = {e.heartbeat.edge_id: e.heartbeat.started_at for e in self.edges.live()}
        self._started.update(live)
        await self._settle_lost(live, now)
        if now - (self._connected_since or now) >= self.grace:
            async with self.db.transaction() as conn:
                missing = await roster.edges_in_use(conn) - set(live)
            for edge_id in missing:
                await self._mark_lost(edge_id, now, self._started.get(edge_id))
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

    async def _settle_lost(self, live: dict[str, float], now: float) -> None:
        async with self.db.transaction() as conn:
            for r in await roster.lost(conn):
                started = live.get(r["edge_id"])
                same = started is not None and (not r["lost_edge_started"] or not started
                                                or started == r["lost_edge_started"])
                if same:
                    await roster.restore(conn, r["meeting_id"], r["participant_id"])
                elif started is not None or now - r["lost_at"] > self.empty_timeout:
                    await roster.remove(conn, r["meeting_id"], r["participant_id"], at=r["lost_at"],
                                        reason="edge_lost")

    def edge_left(self, edge_id: str, why: str) -> None:
        """Registry listener: the edge's participants are lost (unless we are the ones cut off)."""
        if not self.bus.connected:
            return
        # the instance whose participants are lost; an edge that restarted is live again already,
        # as another instance: whatever this control plane saw of the old one, none of it comes back
        started = self._started.get(edge_id)
        if why == "restarted":
            started = started or GONE_INSTANCE
        task = asyncio.get_running_loop().create_task(self._mark_lost_now(edge_id, started))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _mark_lost_now(self, edge_id: str, started: float | None) -> None:
        try:
            await self._mark_lost(edge_id, time.time(), started)
        except DatabaseUnavailable as exc:  # the sweep after the outage finds the edge missing
            log.warning("lost edge not recorded: database unavailable", extra={"edge_id": edge_id,
                                                                                "error": str(exc)})

    async def _mark_lost(self, edge_id: str, now: float, started: float | None) -> None:
        """Mark the participants of *edge_id*'s instance started at *started* lost."""
        async with self.db.transaction() as conn:
            emptied = await roster.mark_lost(conn, edge_id, now, started, moved_since=now - self.grace)
        log.info("participants of a lost edge marked lost", extra={"edge_id": edge_id, "emptied": emptied})
