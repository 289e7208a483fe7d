"""Roster and attendance as the API shows them."""

from __future__ import annotations

import msgspec


class TrackRead(msgspec.Struct, kw_only=True):
    track_id: str
    kind: str
    source: str


class ParticipantRead(msgspec.Struct, kw_only=True):
    participant_id: str
    #: Account id, or ``guest:<random>`` for a guest.
    account_id: str
    display_name: str
    role: str
    edge_id: str
    #: True while waiting in the lobby to be admitted.
    lobby: bool
    #: True while the participant's edge is out of the registry (back when the edge is).
    lost: bool
    muted: dict[str, bool]
    tracks: list[TrackRead]
    joined_at: str | None
    waiting_since: str | None


class RosterRead(msgspec.Struct, kw_only=True):
    meeting_id: str
    state: str
    #: Participants in the meeting (not counting the lobby, nor those lost with their edge).
    present: int
    waiting: int
    participants: list[ParticipantRead]


class AttendanceRead(msgspec.Struct, kw_only=True):
    participant_id: str
    account_id: str
    display_name: str
    role: str
    edge_id: str
    joined_at: str
    left_at: str | None
    left_reason: str | None
    #: Seconds in the meeting (so far, while still in it).
    duration_s: float
