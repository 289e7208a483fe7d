"""What an endpoint receives: ``{"type": …, "timestamp": ISO 8601 UTC, "data": {…}}``, and its id.

The message id (``webhook-id``) is ``msg_`` and the event's id for an edge's event, ``msg_end_``,
the meeting's id and the time it ended for ``meeting.ended``, ``msg_rec_`` and the recording's id
for a finished recording: the same however often it is sent, and the same
to every endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from nodes import wire


@dataclass(frozen=True)
class Message:
    webhook_id: str
    type: str
    meeting_id: str
    body: str


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _message(webhook_id: str, event_type: str, at: float, meeting_id: str, data: dict[str, Any]) -> Message:
    body = msgspec.json.encode({"type": event_type, "timestamp": iso(at), "data": data}).decode()
    return Message(webhook_id=webhook_id, type=event_type, meeting_id=meeting_id, body=body)


def of_event(event: wire.Event) -> Message | None:
    """The message for an edge's event, or None for a kind that is not sent."""
    common = {"meeting_id": event.meeting_id, "edge_id": event.edge_id, "event_id": event.event_id}
    match event:
        case wire.MeetingStarted():
            kind, data = "meeting.started", {**common, "started_at": iso(event.at)}
        case wire.MeetingEnded():
            return meeting_ended(event.meeting_id, at=event.at, reason=event.reason, edge_id=event.edge_id,
                                 event_id=event.event_id)
        case wire.ParticipantJoined():
            kind, data = "participant.joined", {
                **common, "participant_id": event.participant_id, "account_id": event.account_id,
                "display_name": event.display_name, "role": event.role, "joined_at": iso(event.at)}
        case wire.ParticipantLeft():
            kind, data = "participant.left", {**common, "participant_id": event.participant_id,
                                              "reason": event.reason, "left_at": iso(event.at)}
        case _:
            return None
    return _message(f"msg_{event.event_id}", kind, event.at, event.meeting_id, data)


def meeting_ended(meeting_id: str, *, at: float, reason: str, edge_id: str = "", event_id: str = "") -> Message:
    """The meeting ended: by an edge's event (a moderator there ended it) or by the control plane
    (ended through the API, or empty too long). Its id names the meeting and the time it ended, so
    whichever of them reports it, it is one message."""
    data = {"meeting_id": meeting_id, "edge_id": edge_id, "event_id": event_id, "ended_at": iso(at), "reason": reason}
    return _message(f"msg_end_{meeting_id}_{round(at * 1000)}", "meeting.ended", at, meeting_id, data)


def recording_ready(recording_id: str, meeting_id: str, *, state: str, reason: str, error: str,
                    started_at: float, stopped_at: float) -> Message:
    data = {"recording_id": recording_id, "meeting_id": meeting_id, "state": state, "reason": reason,
            "error": error, "started_at": iso(started_at), "stopped_at": iso(stopped_at),
            "manifest_url": f"/api/v1/recordings/{recording_id}/files/manifest.json"}
    return _message(f"msg_rec_{recording_id}", "recording.ready", stopped_at, meeting_id, data)
