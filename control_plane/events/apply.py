"""Applying one event to the database: once, whole, in one transaction.

The event's ``event_id`` is recorded in ``applied_events`` in the same transaction that applies
it, so an event delivered twice (a redelivery, or the same event published twice) changes the
roster, attendance and meeting state once. Events for unknown (deleted) meetings are recorded and
otherwise ignored. An ended meeting takes no new participants from events; it becomes joinable
again only through a restart.
"""

from __future__ import annotations

import logging
import time

from nodes import wire

from ..db import Connection, Database
from . import repository as repo

log = logging.getLogger(__name__)


async def apply_event(db: Database, event: wire.Event) -> bool:
    """Apply *event*; False when it had been applied before."""
    kind = wire.EVENT_KIND[type(event)]
    mid = event.meeting_id
    async with db.transaction() as conn:
        if not await repo.mark_applied(conn, event.event_id, mid, kind, time.time()):
            return False
        state = await repo.meeting_state(conn, mid)
        if state is None:
            log.info("event for an unknown meeting", extra={"meeting_id": mid, "kind": kind})
            return True
        match event:
            case wire.MeetingStarted():
                if state == "scheduled":
                    await _set_live(conn, mid, event.at)
            case wire.MeetingEnded():
                if state != "ended":
                    await conn.execute("UPDATE meetings SET state = 'ended', ended_at = ?, empty_since = NULL,"
                                       " recording_since = NULL WHERE id = ?", (event.at, mid))
                await repo.close_roster(conn, mid, event.at, "ended")
            case wire.LobbyWaiting():
                if state != "ended":
                    await repo.upsert_waiting(conn, mid, event.participant_id, account_id=event.account_id,
                                              display_name=event.display_name, edge_id=event.edge_id, at=event.at)
            case wire.ParticipantJoined():
                if state != "ended":
                    await repo.upsert_joined(conn, mid, event.participant_id, account_id=event.account_id,
                                             display_name=event.display_name, role=event.role,
                                             edge_id=event.edge_id, at=event.at)
                    await repo.supersede_lost(conn, mid, event.participant_id, event.account_id, event.at)
                    if state == "scheduled":
                        await _set_live(conn, mid, event.at)
                    await conn.execute("UPDATE meetings SET empty_since = NULL WHERE id = ?", (mid,))
            case wire.ParticipantLeft():
                await repo.remove(conn, mid, event.participant_id, at=event.at, reason=event.reason)
                if state == "live" and await repo.present_count(conn, mid) == 0:
                    await conn.execute("UPDATE meetings SET empty_since = ? WHERE id = ? AND empty_since IS NULL",
                                       (event.at, mid))
            case wire.TrackPublished():
                await repo.add_track(conn, mid, event.participant_id, event.track_id, event.kind, event.source,
                                     event.at)
            case wire.TrackUnpublished():
                await repo.remove_track(conn, mid, event.participant_id, event.track_id)
            case wire.ParticipantMuted():
                await repo.set_muted(conn, mid, event.participant_id, event.kind, event.muted)
            case wire.RecordingStarted():
                if state != "ended":
                    await conn.execute("UPDATE meetings SET recording_since = ? WHERE id = ?"
                                       " AND recording_since IS NULL", (event.at, mid))
            case wire.RecordingStopped():
                await conn.execute("UPDATE meetings SET recording_since = NULL WHERE id = ?", (mid,))
    return True


async def _set_live(conn: Connection, meeting_id: str, at: float) -> None:
    await conn.execute("UPDATE meetings SET state = 'live', started_at = ?, ended_at = NULL, empty_since = ?"
                       " WHERE id = ? AND state = 'scheduled'", (at, at, meeting_id))
