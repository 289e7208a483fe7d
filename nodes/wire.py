"""Messages on the bus: msgspec tagged unions, each with one decoder built once.

Every message is a ``Struct`` with a ``type`` tag. Families:

* registry — :class:`EdgeHeartbeat`, :class:`EdgeGone` (edge → control plane);
* commands — :data:`Command` (control plane → edges, request/reply; answered by :class:`CommandReply`);
* events — :data:`Event` (edges → JetStream → control plane), each with an ``event_id`` used as
  the ``Nats-Msg-Id`` so a retried publish is stored once.

New fields always get defaults, so older and newer nodes keep understanding each other.
Subjects and who sends what: ``docs/subjects.md``.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal, Union

import msgspec
from msgspec import Struct


def new_id() -> str:
    """A random id that is safe as a subject token and a ``Nats-Msg-Id``."""
    return uuid.uuid4().hex


def now() -> float:
    return time.time()


class _Msg(Struct, tag_field="type", kw_only=True, omit_defaults=False):
    pass


# --- registry -------------------------------------------------------------------------------
class EdgeHeartbeat(_Msg, kw_only=True, tag="edge.heartbeat"):
    """An edge's announcement of itself and its load, sent every ~2 s."""

    edge_id: str
    region: str
    #: URL clients use for signaling, e.g. ``ws://10.0.0.5:8081``.
    public_url: str
    seq: int = 0
    sent_at: float = msgspec.field(default_factory=now)
    started_at: float = 0.0
    meetings: int = 0
    participants: int = 0
    tracks: int = 0
    #: CPU used by the edge process since the previous heartbeat, percent of one core.
    cpu_pct: float = 0.0
    #: True while the edge drains: it takes no new meetings.
    draining: bool = False
    version: str = ""
    #: Interval the edge promises between heartbeats, seconds.
    interval: float = 2.0


class EdgeGone(_Msg, kw_only=True, tag="edge.gone"):
    """An edge leaving in order (SIGTERM); a dead edge instead just stops heartbeating."""

    edge_id: str
    region: str = ""


Registry = Union[EdgeHeartbeat, EdgeGone]


# --- commands -------------------------------------------------------------------------------
class _Cmd(_Msg, kw_only=True):
    command_id: str = msgspec.field(default_factory=new_id)
    meeting_id: str
    #: Placement epoch the sender believes current; edges refuse commands from a stale epoch.
    epoch: int = 0
    #: Account id of whoever asked (for the audit trail).
    by: str = ""


class Kick(_Cmd, kw_only=True, tag="cmd.kick"):
    participant_id: str
    reason: str = ""


class Mute(_Cmd, kw_only=True, tag="cmd.mute"):
    participant_id: str
    #: "audio", "video" or "screen".
    kind: str = "audio"


class Admit(_Cmd, kw_only=True, tag="cmd.admit"):
    participant_id: str


class Deny(_Cmd, kw_only=True, tag="cmd.deny"):
    participant_id: str


class Promote(_Cmd, kw_only=True, tag="cmd.promote"):
    """Give a participant the moderate grant for the rest of the meeting."""

    participant_id: str


class EndMeeting(_Cmd, kw_only=True, tag="cmd.end"):
    reason: str = "ended by host"


Command = Union[Kick, Mute, Admit, Deny, Promote, EndMeeting]


class CommandReply(_Msg, kw_only=True, tag="cmd.reply"):
    command_id: str
    ok: bool
    edge_id: str = ""
    error: str = ""


# --- events ---------------------------------------------------------------------------------
class _Evt(_Msg, kw_only=True):
    event_id: str = msgspec.field(default_factory=new_id)
    meeting_id: str
    edge_id: str
    at: float = msgspec.field(default_factory=now)
    epoch: int = 0


class MeetingStarted(_Evt, kw_only=True, tag="evt.started"):
    pass


class MeetingEnded(_Evt, kw_only=True, tag="evt.ended"):
    reason: str = ""


class ParticipantJoined(_Evt, kw_only=True, tag="evt.joined"):
    participant_id: str
    account_id: str = ""
    display_name: str = ""
    role: str = "member"


class ParticipantLeft(_Evt, kw_only=True, tag="evt.left"):
    participant_id: str
    #: "left", "kicked", "ended", "timeout", "denied", "edge_stopped".
    reason: str = "left"


class LobbyWaiting(_Evt, kw_only=True, tag="evt.lobby"):
    participant_id: str
    account_id: str = ""
    display_name: str = ""


class TrackPublished(_Evt, kw_only=True, tag="evt.track_published"):
    participant_id: str
    track_id: str
    kind: Literal["audio", "video"]
    #: "microphone", "camera" or "screen".
    source: str = "camera"


class TrackUnpublished(_Evt, kw_only=True, tag="evt.track_unpublished"):
    participant_id: str
    track_id: str


class ParticipantMuted(_Evt, kw_only=True, tag="evt.muted"):
    participant_id: str
    kind: str = "audio"
    muted: bool = True
    by: str = ""


Event = Union[
    MeetingStarted, MeetingEnded, ParticipantJoined, ParticipantLeft, LobbyWaiting,
    TrackPublished, TrackUnpublished, ParticipantMuted,
]

#: The subject suffix each event is published under (``cc.evt.<meeting>.<kind>``).
EVENT_KIND: dict[type, str] = {
    MeetingStarted: "started", MeetingEnded: "ended", ParticipantJoined: "joined",
    ParticipantLeft: "left", LobbyWaiting: "lobby", TrackPublished: "track_published",
    TrackUnpublished: "track_unpublished", ParticipantMuted: "muted",
}


# --- control plane replies ------------------------------------------------------------------
class JwksReply(_Msg, kw_only=True, tag="cp.jwks"):
    """The public keys that verify join tokens, as a JWKS document (RFC 7517) in ``keys``."""

    keys: list[dict] = msgspec.field(default_factory=list)


class ErrorReply(_Msg, kw_only=True, tag="error"):
    error: str
    detail: str = ""


# --- one encoder, one decoder per family -----------------------------------------------------
encoder = msgspec.json.Encoder()
registry_decoder = msgspec.json.Decoder(Registry)
command_decoder = msgspec.json.Decoder(Union[Command])  # type: ignore[arg-type]
reply_decoder = msgspec.json.Decoder(Union[CommandReply, ErrorReply])
event_decoder = msgspec.json.Decoder(Event)
jwks_decoder = msgspec.json.Decoder(Union[JwksReply, ErrorReply])


def encode(msg: Struct) -> bytes:
    return encoder.encode(msg)
