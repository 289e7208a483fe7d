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

from .. import audit
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
                if event.reason in ("kicked", "denied"):
                    await _audit_removal(conn, event)
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
                if event.muted and event.by and event.by != event.participant_id:
                    await _audit_room_mute(conn, event)
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


# -- the audit log: moderators' actions in the room, as the edges report them ---------------------
async def _moderator(conn: Connection, meeting_id: str, by: str) -> audit.Actor | None:
    """The actor named by an event's ``by``: a participant of the meeting (a moderator in the room),
    or None when ``by`` is an account id (the control plane asked, and its ``meeting.*`` entry already
    names the account). A ``by`` that is neither (its join not applied yet) is kept as it came."""
    cur = await conn.execute("SELECT r.account_id, COALESCE(a.username, r.display_name) AS name FROM roster r"
                             " LEFT JOIN accounts a ON a.id = r.account_id"
                             " WHERE r.meeting_id = ? AND r.participant_id = ?", (meeting_id, by))
    row = await cur.fetchone()
    if row is not None:
        return audit.Actor("moderator", row["account_id"] or "", row["name"] or "")
    cur = await conn.execute("SELECT 1 FROM accounts WHERE id = ?", (by,))
    if await cur.fetchone() is not None:
        return None
    return audit.Actor("moderator")


async def _audit_removal(conn: Connection, event: wire.ParticipantLeft) -> None:
    """A participant kicked or turned away from the lobby, by the moderator the event names (``by``).
    With no ``by`` (a token barred on another edge, or an edge older than the field) the entry names
    no account; the edge that reported it is in the details either way."""
    details = {"reported_by": event.edge_id}
    if event.by:
        actor = await _moderator(conn, event.meeting_id, event.by)
        if actor is None:
            return  # a command from the control plane: audited there
        details["by_participant"] = event.by
    else:
        actor = audit.Actor("moderator")
        details["actor"] = "not named by the event"
    await audit.record(None, actor, f"participant.{event.reason}", target_kind="participant",
                       target_id=event.participant_id, meeting_id=event.meeting_id, conn=conn, at=event.at,
                       details=details)


async def _audit_room_mute(conn: Connection, event: wire.ParticipantMuted) -> None:
    """A moderator in the room muted someone: ``by`` is the moderator's participant id (for a
    control plane command it is an account id, and ``meeting.mute`` already has the entry)."""
    actor = await _moderator(conn, event.meeting_id, event.by)
    if actor is None:
        return
    await audit.record(None, actor, "participant.muted", target_kind="participant", target_id=event.participant_id,
                       meeting_id=event.meeting_id, conn=conn, at=event.at,
                       details={"kind": event.kind, "by_participant": event.by, "reported_by": event.edge_id})
