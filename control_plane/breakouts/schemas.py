"""Request and response bodies for breakout rooms (``/api/v1/meetings/{id}/breakouts``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Struct

from ..meetings.schemas import JoinRead, ParticipantId

#: The most rooms one set may have.
MAX_ROOMS = 50
#: The longest a set may stay open by its timer: one day.
MAX_DURATION_S = 86400

RoomName = Annotated[str, msgspec.Meta(max_length=100)]
NoticeText = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class RoomIn(Struct, kw_only=True, forbid_unknown_fields=True):
    #: Shown to its participants; empty: "Room 1", "Room 2", … by its place in the list.
    name: RoomName = ""
    #: Participant ids (in the main meeting now) sent to this room.
    participants: Annotated[list[ParticipantId], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)


class BreakoutCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    rooms: Annotated[list[RoomIn], msgspec.Meta(min_length=1, max_length=MAX_ROOMS)]
    #: Those in the meeting not assigned to a room pick one themselves (else they stay).
    allow_choose: bool = False
    #: Everyone comes back by itself after this many seconds; None: only when a moderator says so.
    duration_s: Annotated[int, msgspec.Meta(ge=1, le=MAX_DURATION_S)] | None = None


class BroadcastBody(Struct, kw_only=True, forbid_unknown_fields=True):
    text: NoticeText


class CloseBody(Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class ChooseBody(Struct, kw_only=True, forbid_unknown_fields=True):
    #: The ticket of the ``breakout`` signaling message (it stands for the participant: no session needed).
    ticket: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    #: One of the set's rooms.
    room_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class PersonRead(Struct, kw_only=True):
    participant_id: str
    name: str


class RoomRead(Struct, kw_only=True):
    room_id: str
    name: str
    #: Those sent to this room (or who chose it), as they were in the main meeting.
    assigned: list[PersonRead] = msgspec.field(default_factory=list)
    #: Who is in the room now (its own participant ids).
    present: list[PersonRead] = msgspec.field(default_factory=list)


class BreakoutRead(Struct, kw_only=True):
    id: str
    meeting_id: str
    state: Literal["open", "closed"]
    allow_choose: bool
    #: Unix seconds.
    created_at: float
    #: When the rooms close by themselves (Unix seconds); None: no timer.
    ends_at: float | None = None
    closed_at: float | None = None
    #: ``moderator``, ``timer``, ``meeting_ended``, or the moderator's reason.
    close_reason: str = ""
    rooms: list[RoomRead] = msgspec.field(default_factory=list)
    #: Those who may still choose a room (``allow_choose``) and have not.
    choosing: list[PersonRead] = msgspec.field(default_factory=list)


class BroadcastRead(Struct, kw_only=True):
    #: The meetings (main and rooms) whose edges showed the message.
    reached: int
    #: The main meeting and rooms with nobody connected (nothing to show it to).
    empty: int


class ChooseRead(Struct, kw_only=True):
    room_id: str
    name: str
    #: The join answer for the room, as ``POST /api/v1/meetings/{id}/join`` gives one.
    join: JoinRead
    #: When the rooms close by themselves (Unix seconds); None: no timer.
    ends_at: float | None = None
