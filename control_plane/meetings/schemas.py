"""Request and response bodies for meetings (separate Create / Update / Read Structs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

from ..accounts.schemas import Username

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
MeetingPassword = Annotated[str, msgspec.Meta(min_length=4, max_length=128)]
Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
PublishPolicy = Literal["everyone", "hosts"]
State = Literal["scheduled", "live", "ended"]
Region = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ParticipantId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_:.@-]+$")]


class Recurrence(Struct, kw_only=True, forbid_unknown_fields=True):
    freq: Literal["daily", "weekly", "monthly"]
    #: Every ``interval`` days / weeks / months.
    interval: Annotated[int, msgspec.Meta(ge=1, le=99)] = 1
    #: Weekly only; must include the start's weekday (default: just that day).
    weekdays: list[Weekday] = msgspec.field(default_factory=list)
    #: Number of occurrences, or ``until`` (a local date, inclusive), or neither (no end).
    count: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    until: date | None = None


class ScheduleIn(Struct, kw_only=True, forbid_unknown_fields=True):
    #: Local times in ``time_zone``; an offset given here is converted into the zone.
    start: datetime
    end: datetime
    #: IANA time zone name, e.g. "Europe/Berlin".
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    recurrence: Recurrence | None = None


class MeetingCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    description: Description = ""
    #: None: an unscheduled (ad-hoc) meeting.
    schedule: ScheduleIn | None = None
    password: MeetingPassword | None = None
    lobby: bool = False
    allow_guests: bool = False
    max_participants: Annotated[int, msgspec.Meta(ge=2)] | None = None
    publish_policy: PublishPolicy = "everyone"
    locked: bool = False
    #: Record the meeting by itself from when the first participant joins (the owner's account
    #: must carry the record grant; setting it needs that grant too).
    auto_record: bool = False
    #: End-to-end encrypted: browsers encrypt media with a key from a passphrase shared outside the
    #: product; the server cannot read it, so it cannot be recorded (not with ``auto_record``).
    e2ee: bool = False
    #: User names of co-hosts.
    cohosts: list[Username] = msgspec.field(default_factory=list)


class MeetingUpdate(Struct, kw_only=True, forbid_unknown_fields=True):
    """Omitted fields stay as they are; ``null`` clears ``schedule`` and ``password``."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    schedule: ScheduleIn | None | UnsetType = UNSET
    password: MeetingPassword | None | UnsetType = UNSET
    lobby: bool | UnsetType = UNSET
    allow_guests: bool | UnsetType = UNSET
    max_participants: Annotated[int, msgspec.Meta(ge=2)] | UnsetType = UNSET
    publish_policy: PublishPolicy | UnsetType = UNSET
    locked: bool | UnsetType = UNSET
    auto_record: bool | UnsetType = UNSET
    #: Not while the meeting is live (its participants would not agree on it).
    e2ee: bool | UnsetType = UNSET
    cohosts: list[Username] | UnsetType = UNSET


class AccountRef(Struct, kw_only=True):
    id: str
    username: str
    display_name: str


class OccurrenceRead(Struct, kw_only=True):
    start: datetime
    end: datetime
    start_utc: datetime
    end_utc: datetime


class ScheduleRead(Struct, kw_only=True):
    start: datetime
    end: datetime
    time_zone: str
    recurrence: Recurrence | None = None
    #: RFC 5545 rule of a series, e.g. "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10".
    rrule: str | None = None


class MeetingRead(Struct, kw_only=True):
    id: str
    title: str
    description: str
    schedule: ScheduleRead | None
    next_occurrence: OccurrenceRead | None
    state: State
    started_at: str | None
    ended_at: str | None
    has_password: bool
    lobby: bool
    allow_guests: bool
    max_participants: int
    publish_policy: PublishPolicy
    locked: bool
    #: Since when a recorder is in the meeting (ISO 8601 UTC), None when nobody records it.
    recording_since: str | None = None
    #: Recorded by itself from when the first participant joins.
    auto_record: bool = False
    #: End-to-end encrypted media (a passphrase shared outside the product); never recorded.
    e2ee: bool = False
    #: True when the caller may edit, delete and moderate this meeting.
    can_manage: bool
    #: Owner and co-hosts (filled in for those who can manage the meeting).
    owner: AccountRef | None = None
    cohosts: list[AccountRef] = msgspec.field(default_factory=list)
    url: str = ""
    created_at: str = ""
    updated_at: str = ""
    #: A breakout room's main meeting (None for a meeting of its own).
    parent_id: str | None = None


class JoinRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    #: Guests (no session) must give a name; signed-in users are shown with their account's name.
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    password: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    #: The participant's region, if known; else told from the client address.
    region: Region | None = None


class AlternateEdge(Struct, kw_only=True):
    edge_id: str
    url: str


class JoinRead(Struct, kw_only=True):
    token: str
    edge_url: str
    edge_id: str
    expires_at: int
    meeting_id: str
    role: str
    permissions: dict[str, bool]
    lobby: bool
    #: Placement epoch and the other edges of the region that accept the token.
    epoch: int = 0
    alt: list[str] = msgspec.field(default_factory=list)
    #: The same edges with their signaling URLs, in the order to try them when the edge fails.
    alternates: list[AlternateEdge] = msgspec.field(default_factory=list)
    #: The participant's region, as the control plane told it (request, header, address, default).
    region: str = ""
    #: The meeting is end-to-end encrypted: the client must encrypt and decrypt media with the
    #: passphrase's key (docs/security.md, End-to-end encryption).
    e2ee: bool = False


class KickBody(Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class MuteBody(Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["audio", "video", "screen"] = "audio"


class EndBody(Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = "ended by host"


class CommandRead(Struct, kw_only=True):
    command_id: str
    ok: bool
    #: The edge that carried it out ("" when no edge hosts the meeting, for ``end``).
    edge_id: str = ""
    epoch: int = 0
    state: State | None = None
