"""Messages on the bus: msgspec tagged unions, each with one decoder built once.

Every message is a ``Struct`` with a ``type`` tag. Families:

* registry — :class:`EdgeHeartbeat`, :class:`EdgeGone` (edge → control plane);
* commands — :data:`Command` (control plane → edges, request/reply; answered by :class:`CommandReply`);
* events — :data:`Event` (edges → JetStream → control plane), each with an ``event_id`` used as
  the ``Nats-Msg-Id`` so a retried publish is stored once;
* mesh — :data:`MeshMessage` (edge ↔ edges of one meeting: :class:`MeshState`, chat, moderation,
  end) and :data:`RelayRequest` (edge → edge relay signaling, answered by :class:`RelayReply`);
* recorders — :data:`RecorderRequest` (control plane → recorder) and :data:`RecorderReport`
  (recorder → control plane), request/reply.

New fields always get defaults, so older and newer nodes keep understanding each other.
Subjects and who sends what: ``docs/subjects.md``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal, Union

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
    #: The machine the edge runs on when it is one of several workers there ("" otherwise).
    machine: str = ""
    #: Subscriber streams the edge forwards (each track to each subscriber, bridged ones included).
    streams: int = 0


class EdgeGone(_Msg, kw_only=True, tag="edge.gone"):
    """An edge leaving in order (SIGTERM); a dead edge instead just stops heartbeating."""

    edge_id: str
    region: str = ""


Registry = Union[EdgeHeartbeat, EdgeGone]


# --- a meeting's entry policy ---------------------------------------------------------------
class MeetingPolicy(Struct, kw_only=True, forbid_unknown_fields=False):
    """Who may still take a seat in a meeting, as the control plane last decided it: in join tokens
    (claim ``pol``), in the :class:`Policy` command and in the mesh state. The newest ``version``
    wins."""

    #: Only hosts and moderators may join.
    locked: bool = False
    #: Participants in the meeting at most, on every edge together (0: no limit).
    max_participants: int = 0
    #: Milliseconds since the epoch of the meeting's last change (0: unknown, any other wins).
    version: int = 0


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


class Policy(_Cmd, kw_only=True, tag="cmd.policy"):
    """The meeting's lock or participant limit changed: every edge hosting it enforces the newest."""

    policy: MeetingPolicy = msgspec.field(default_factory=MeetingPolicy)


class BreakoutRoom(Struct, kw_only=True):
    """A breakout room: its own meeting's id and its name."""

    room_id: str
    name: str


class BreakoutMove(Struct, kw_only=True):
    """What one participant of the commanded meeting is to do."""

    participant_id: str
    #: "join": go to ``room`` with ``join``; "choose": pick one of ``rooms`` (ask the control plane
    #: with ``ticket``); "return": back to the main meeting with ``join`` (or, already there, stop
    #: choosing).
    action: Literal["join", "choose", "return"]
    room: BreakoutRoom | None = None
    #: Where to go and the token to enter with: the answer of the control plane's join call
    #: (``docs/protocol.md``), passed on to the participant as it is.
    join: dict[str, Any] | None = None
    rooms: list[BreakoutRoom] = msgspec.field(default_factory=list)
    #: Lets its holder ask the control plane for a token into a room of the set (guests too).
    ticket: str = ""
    #: When the rooms close by themselves (Unix seconds; 0: no timer).
    ends_at: float = 0.0
    #: The meeting the rooms were opened from.
    main_meeting_id: str = ""


class Breakout(_Cmd, kw_only=True, tag="cmd.breakout"):
    """Breakout rooms opened or closed: each edge of the meeting tells its own participants among
    ``moves`` where to go (signaling ``breakout``)."""

    moves: list[BreakoutMove] = msgspec.field(default_factory=list)


class Notice(_Cmd, kw_only=True, tag="cmd.notice"):
    """A moderator's message to everyone in the meeting (every room of a breakout set gets one):
    each edge of the meeting shows it to its participants (signaling ``notice``)."""

    text: str
    #: The moderator's name, as shown.
    sender_name: str = ""


Command = Union[Kick, Mute, Admit, Deny, Promote, EndMeeting, Policy, Breakout, Notice]


class CommandReply(_Msg, kw_only=True, tag="cmd.reply"):
    command_id: str
    ok: bool
    edge_id: str = ""
    error: str = ""


class DrainEdge(_Msg, kw_only=True, tag="cmd.drain"):
    """Control plane → one edge (``cc.cmd.edge.<edge>.drain``): stop taking joins and new meetings, as
    on SIGTERM, but keep serving the meetings it has. Answered by :class:`CommandReply`."""

    command_id: str = msgspec.field(default_factory=new_id)
    edge_id: str
    #: Account id of the admin who asked (for the audit trail).
    by: str = ""
    reason: str = ""


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
    #: Who removed the participant (kicked, denied): a moderator's participant id, an account id when
    #: the control plane asked, or "" when nobody did (a token barred elsewhere, a plain leave).
    by: str = ""


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


class RecordingStarted(_Evt, kw_only=True, tag="evt.recording_started"):
    """A recorder entered the meeting on this edge (the first one there)."""

    #: The recorder's (hidden) seat.
    participant_id: str


class RecordingStopped(_Evt, kw_only=True, tag="evt.recording_stopped"):
    """The last recorder left the meeting on this edge."""

    participant_id: str
    reason: str = "left"


Event = Union[
    MeetingStarted, MeetingEnded, ParticipantJoined, ParticipantLeft, LobbyWaiting,
    TrackPublished, TrackUnpublished, ParticipantMuted, RecordingStarted, RecordingStopped,
]

#: The subject suffix each event is published under (``cc.evt.<edge>.<meeting>.<kind>``).
EVENT_KIND: dict[type, str] = {
    MeetingStarted: "started", MeetingEnded: "ended", ParticipantJoined: "joined",
    ParticipantLeft: "left", LobbyWaiting: "lobby", TrackPublished: "track_published",
    TrackUnpublished: "track_unpublished", ParticipantMuted: "muted",
    RecordingStarted: "recording_started", RecordingStopped: "recording_stopped",
}


# --- control plane replies ------------------------------------------------------------------
class JwksReply(_Msg, kw_only=True, tag="cp.jwks"):
    """The public keys that verify join tokens, as a JWKS document (RFC 7517) in ``keys``."""

    keys: list[dict[str, Any]] = msgspec.field(default_factory=list)


class ErrorReply(_Msg, kw_only=True, tag="error"):
    error: str
    detail: str = ""


# --- recorders (docs/recording.md) ------------------------------------------------------------
class RecordStart(_Msg, kw_only=True, tag="rec.start"):
    """Record *meeting_id* into recording *recording_id*: join *edge_url* with *token* (a hidden
    recorder's join token). Answered once the edge has seated the recorder, or refused."""

    recording_id: str
    meeting_id: str
    edge_url: str
    token: str


class RecordStop(_Msg, kw_only=True, tag="rec.stop"):
    """Leave the meeting and close the recording's files; answered once the manifest is written."""

    recording_id: str


class RecordReply(_Msg, kw_only=True, tag="rec.reply"):
    ok: bool
    recorder_id: str = ""
    error: str = ""
    #: Why it was refused, for machines: ``forbidden``, ``recording_refused``, ``unavailable``.
    code: str = ""


class RecordControl(_Msg, kw_only=True, tag="rec.control"):
    """Edge → control plane: a moderator in the room asks to start or stop recording the meeting.
    The control plane checks the edge hosts the meeting and the account may record."""

    meeting_id: str
    action: Literal["start", "stop"]
    account_id: str
    participant_id: str = ""


class RecordRejoin(_Msg, kw_only=True, tag="rec.rejoin"):
    """The recorder lost its edge (or restarted): where does the meeting go on, with which token?"""

    recording_id: str
    meeting_id: str


class RecordRejoinReply(_Msg, kw_only=True, tag="rec.rejoin_reply"):
    """``ok``: join *edge_url* with *token*. Not ok: ``retry`` says whether asking again later can
    help (the meeting is moving to another edge) or not (stopped, ended, unknown)."""

    ok: bool
    edge_url: str = ""
    token: str = ""
    retry: bool = False
    error: str = ""


class RecordDone(_Msg, kw_only=True, tag="rec.done"):
    """A recording ended (stopped, the meeting ended, or it failed: ``error``); its manifest is final."""

    recording_id: str
    meeting_id: str
    reason: str = ""
    error: str = ""
    files: int = 0
    bytes: int = 0


RecorderRequest = Union[RecordStart, RecordStop]
RecorderReport = Union[RecordRejoin, RecordDone]


# --- mesh: the edges of one meeting (cascading) -----------------------------------------------
class MeshParticipant(Struct, kw_only=True):
    """A participant as the edge hosting it describes it to the meeting's other edges."""

    participant_id: str
    name: str = ""
    role: str = "member"
    moderator: bool = False
    #: "in" (in the meeting) or "lobby" (waiting to be admitted).
    state: Literal["in", "lobby"] = "in"
    #: Sources the participant has muted (or has been muted on): "microphone", "camera", "screen".
    muted: list[str] = msgspec.field(default_factory=list)
    #: Source → who last changed its mute state (a participant id, or the control plane's ``by``).
    muted_by: dict[str, str] = msgspec.field(default_factory=dict)
    #: When it arrived (the lobby's "since"), Unix seconds.
    since: float = 0.0
    #: When it entered the meeting (the roster is in this order on every edge), Unix seconds.
    entered_at: float = 0.0
    #: The ``jti`` of its join token: one seat per token across the meeting's edges.
    token_id: str = ""
    #: When it raised its hand (Unix seconds; 0: not raised), and who last raised or lowered it.
    hand: float = 0.0
    hand_by: str = ""


class MeshTrack(Struct, kw_only=True):
    """A track published on the edge that describes it (local origin: never a relayed one)."""

    track_id: str
    participant_id: str
    kind: Literal["audio", "video"]
    #: "microphone", "camera" or "screen".
    source: str
    codec: str = ""
    muted: bool = False


class MeshDeparture(Struct, kw_only=True):
    """A participant that left the edge recently, and why ("left", "kicked", "timeout", …)."""

    participant_id: str
    reason: str = "left"
    at: float = 0.0


class MeshBarred(Struct, kw_only=True):
    """A join token that no longer joins the meeting: its participant was kicked or denied."""

    token_id: str
    #: "kicked" or "denied".
    reason: str = "kicked"
    #: The token's ``exp``: remembered until then.
    until: float = 0.0


class _Mesh(_Msg, kw_only=True):
    meeting_id: str
    #: Placement epoch the sender believes current; older ones are refused.
    epoch: int = 0
    #: The sending edge.
    edge_id: str


class MeshState(_Mesh, kw_only=True, tag="mesh.state"):
    """One edge's part of a meeting, on every change and every ``mesh.state_interval``."""

    region: str = ""
    #: The sending edge process's start time: with ``seq``, orders states from one edge.
    started_at: float = 0.0
    seq: int = 0
    participants: list[MeshParticipant] = msgspec.field(default_factory=list)
    tracks: list[MeshTrack] = msgspec.field(default_factory=list)
    departed: list[MeshDeparture] = msgspec.field(default_factory=list)
    #: The meeting closed on the sending edge: drop it now rather than after the timeout.
    leaving: bool = False
    #: The newest entry policy the sending edge knows.
    policy: MeetingPolicy = msgspec.field(default_factory=MeetingPolicy)
    #: Tokens of participants kicked or denied (on any edge, as far as the sender knows).
    barred: list[MeshBarred] = msgspec.field(default_factory=list)
    #: A recorder is in the meeting on the sending edge: the other edges tell their participants.
    recording: bool = False


class MeshChat(_Mesh, kw_only=True, tag="mesh.chat"):
    """A chat message from a participant of the sending edge (``to`` empty: everyone)."""

    message_id: str
    sender: str
    sender_name: str = ""
    text: str
    to: str = ""
    at: float = 0.0


class MeshReaction(_Mesh, kw_only=True, tag="mesh.reaction"):
    """A reaction of a participant of the sending edge, for everyone in the meeting."""

    participant_id: str
    reaction: str
    at: float = 0.0


class MeshAction(_Mesh, kw_only=True, tag="mesh.action"):
    """A moderator's action on a participant hosted by ``target_edge`` (request/reply)."""

    action: Literal["kick", "mute", "admit", "deny", "promote", "lower_hand"]
    participant_id: str
    target_edge: str
    #: The moderator's participant id.
    by: str = ""
    reason: str = ""
    #: For ``mute``: "microphone", "camera" or "screen".
    source: str = ""


class MeshEnd(_Mesh, kw_only=True, tag="mesh.end"):
    """A moderator ended the meeting for everyone."""

    by: str = ""
    reason: str = ""


MeshMessage = Union[MeshState, MeshChat, MeshReaction, MeshAction, MeshEnd]


class MeshReply(_Msg, kw_only=True, tag="mesh.reply"):
    ok: bool
    edge_id: str = ""
    error: str = ""


class RelayTrack(Struct, kw_only=True):
    """What one m-section of a relay offer carries."""

    mid: str
    track_id: str
    participant_id: str
    kind: Literal["audio", "video"]
    source: str
    codec: str = ""
    muted: bool = False


class RelayWant(_Mesh, kw_only=True, tag="relay.want"):
    """The sending edge wants these tracks (of the addressed edge's own participants) relayed to it;
    an empty list: nothing any more. ``restart``: build the relay afresh."""

    tracks: list[str] = msgspec.field(default_factory=list)
    restart: bool = False


class RelayOffer(_Mesh, kw_only=True, tag="relay.offer"):
    """An offer for the relay peer connection from the sending edge to the addressed one."""

    sdp: str
    tracks: list[RelayTrack] = msgspec.field(default_factory=list)


RelayRequest = Union[RelayWant, RelayOffer]


class RelayReply(_Msg, kw_only=True, tag="relay.reply"):
    ok: bool
    edge_id: str = ""
    error: str = ""
    #: The answer, in reply to a :class:`RelayOffer`.
    sdp: str = ""
    #: The tracks that will be relayed, in reply to a :class:`RelayWant`.
    accepted: list[str] = msgspec.field(default_factory=list)


# --- one encoder, one decoder per family -----------------------------------------------------
encoder = msgspec.json.Encoder()
registry_decoder = msgspec.json.Decoder(Registry)
command_decoder = msgspec.json.Decoder(Union[Command])
reply_decoder = msgspec.json.Decoder(Union[CommandReply, ErrorReply])
drain_decoder = msgspec.json.Decoder(DrainEdge)
event_decoder = msgspec.json.Decoder(Event)
jwks_decoder = msgspec.json.Decoder(Union[JwksReply, ErrorReply])
mesh_decoder = msgspec.json.Decoder(MeshMessage)
mesh_reply_decoder = msgspec.json.Decoder(Union[MeshReply, ErrorReply])
relay_decoder = msgspec.json.Decoder(RelayRequest)
relay_reply_decoder = msgspec.json.Decoder(Union[RelayReply, ErrorReply])
recorder_request_decoder = msgspec.json.Decoder(RecorderRequest)
record_reply_decoder = msgspec.json.Decoder(Union[RecordReply, ErrorReply])
recorder_report_decoder = msgspec.json.Decoder(RecorderReport)
record_control_decoder = msgspec.json.Decoder(RecordControl)
rejoin_reply_decoder = msgspec.json.Decoder(Union[RecordRejoinReply, ErrorReply])


def encode(msg: Struct) -> bytes:
    return encoder.encode(msg)
