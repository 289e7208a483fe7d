"""The signaling protocol: client ↔ edge messages as msgspec tagged unions (``docs/protocol.md``).

Two unions, one per direction — :data:`ClientMessage` (decoded once by :data:`client_decoder`)
and :data:`ServerMessage` (encoded by :data:`encoder`). Every message is a JSON object with a
``type`` tag. Client requests may carry an ``id``; the reply echoes it as ``re``. Server messages
about the meeting carry a per-participant ``seq`` (1, 2, …) so a resuming client can say what it
saw last; ``error``, ``pong``, ``ok`` and ``resumed`` are replies and carry ``seq`` 0.

New fields always get defaults; unknown fields are ignored, so newer clients keep working.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Struct

Source = Literal["microphone", "camera", "screen"]
Pc = Literal["publish", "subscribe"]
RequestId = Union[str, int, None]


class Candidate(Struct, kw_only=True):
    """An ICE candidate as the browser's ``RTCIceCandidate.toJSON()`` gives it."""

    candidate: str
    sdp_mid: str | None = msgspec.field(default=None, name="sdpMid")
    sdp_mline_index: int | None = msgspec.field(default=None, name="sdpMLineIndex")
    username_fragment: str | None = msgspec.field(default=None, name="usernameFragment")


# --- client → edge ---------------------------------------------------------------------------
class _In(Struct, tag_field="type", kw_only=True):
    #: Echoed as ``re`` by the reply (and by an ``error`` about this request).
    id: RequestId = None


class Join(_In, kw_only=True, tag="join"):
    """First message on a socket: enter a meeting (``token``) or take back a place (``resume_token``)."""

    token: str = ""
    #: Must equal the token's meeting; may instead be given in the URL (``?meeting=``).
    meeting_id: str = ""
    resume_token: str = ""
    #: The highest ``seq`` the client saw before its socket dropped.
    last_seq: int = 0
    #: Rebuild both peer connections on resume (the client knows its media broke).
    restart_media: bool = False
    #: Video codecs the client can decode ("VP8", "H264"; any case); empty: any. A track in
    #: another codec reaches it transcoded (docs/sfu.md, Transcoding).
    video_codecs: Annotated[list[Annotated[str, msgspec.Meta(pattern=r"^(?i:vp8|h264)$")]],
                            msgspec.Meta(max_length=4)] = msgspec.field(default_factory=list)


class Offer(_In, kw_only=True, tag="offer"):
    """The client's offer for its publish PC."""

    pc: Pc = "publish"
    sdp: str
    #: mid → source, for every transceiver that sends.
    sources: dict[str, Source] = msgspec.field(default_factory=dict)


class Answer(_In, kw_only=True, tag="answer"):
    """The client's answer to the edge's subscribe offer."""

    pc: Pc = "subscribe"
    sdp: str


class Ice(_In, kw_only=True, tag="ice"):
    pc: Pc
    #: ``null``: end of candidates.
    candidate: Candidate | None = None


class Mute(_In, kw_only=True, tag="mute"):
    """Mute (or unmute) one's own source; moderators may mute (not unmute) someone else's."""

    source: Source
    muted: bool = True
    #: Empty: oneself.
    participant_id: str = ""


#: The reactions a participant may send (the web app shows each as an emoji).
REACTIONS = ("thumbs_up", "clap", "laugh", "surprised", "heart", "party")
Reaction_ = Literal["thumbs_up", "clap", "laugh", "surprised", "heart", "party"]


class Hand(_In, kw_only=True, tag="hand"):
    """Raise or lower one's own hand; moderators may lower (not raise) someone else's."""

    raised: bool = True
    #: Empty: oneself.
    participant_id: str = ""


class React(_In, kw_only=True, tag="react"):
    """A short reaction, shown to everyone in the meeting for a moment."""

    reaction: Reaction_


class Chat(_In, kw_only=True, tag="chat"):
    text: str
    #: Empty: everyone in the meeting; else a private message to that participant.
    to: str = ""


class Admit(_In, kw_only=True, tag="admit"):
    participant_id: str


class Deny(_In, kw_only=True, tag="deny"):
    participant_id: str
    reason: str = ""


class Kick(_In, kw_only=True, tag="kick"):
    participant_id: str
    reason: str = ""


class Promote(_In, kw_only=True, tag="promote"):
    """Give a participant the moderate grant."""

    participant_id: str


class EndMeeting(_In, kw_only=True, tag="end_meeting"):
    reason: str = ""


class Record(_In, kw_only=True, tag="record"):
    """Start or stop recording the meeting (a moderator with the ``record`` grant). The edge asks
    the control plane, which starts a recorder; the answer is ``ok`` or an ``error``."""

    action: Literal["start", "stop"]


class RecordingFailed(_In, kw_only=True, tag="recording_failed"):
    """From a recorder only: it cannot write the recording (a full disk) and is leaving. Everyone
    gets ``recording`` with ``active: false`` and this error."""

    error: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Leave(_In, kw_only=True, tag="leave"):
    pass


class Ping(_In, kw_only=True, tag="ping"):
    #: Any number; echoed in the pong (round-trip measurement).
    t: float = 0.0


class Tile(Struct, kw_only=True):
    """A shown track and the size of its tile, in CSS pixels × ``devicePixelRatio`` (0: unknown)."""

    track_id: str
    width: int = 0
    height: int = 0


class View(_In, kw_only=True, tag="view"):
    """What the client shows: the edge sends each shown track the smallest layer that covers its
    tile, nothing for hidden ones; video tracks named in neither list get what the bandwidth
    allows. Replaces the previous view."""

    tracks: list[Tile] = msgspec.field(default_factory=list)
    hidden: list[str] = msgspec.field(default_factory=list)


ClientMessage = Union[Join, Offer, Answer, Ice, Mute, Chat, Admit, Deny, Kick, Promote, EndMeeting,
                      Record, RecordingFailed, Leave, Ping, View, Hand, React]


# --- edge → client: the shapes inside messages -------------------------------------------------
class TrackOut(Struct, kw_only=True):
    track_id: str
    participant_id: str
    kind: Literal["audio", "video"]
    source: Source
    codec: str = ""
    muted: bool = False


class ParticipantOut(Struct, kw_only=True):
    participant_id: str
    name: str
    role: str
    #: May moderate (kick, mute others, admit, end, promote).
    moderator: bool = False
    #: Sources the participant has muted (or has been muted on).
    muted: list[Source] = msgspec.field(default_factory=list)
    tracks: list[TrackOut] = msgspec.field(default_factory=list)
    #: When the participant raised its hand (Unix seconds; the hand queue's order); 0: not raised.
    hand: float = 0.0


class LobbyEntry(Struct, kw_only=True):
    participant_id: str
    name: str
    since: float = 0.0


class GrantsOut(Struct, kw_only=True):
    publish: list[Source] = msgspec.field(default_factory=list)
    subscribe: bool = True
    chat: bool = False
    moderate: bool = False
    #: May start and stop recording (``record``).
    record: bool = False


class MeetingOut(Struct, kw_only=True):
    meeting_id: str
    edge_id: str
    started_at: float
    active_speaker: str | None = None
    #: A recorder is in the meeting on this edge (see ``recording``).
    recording: bool = False


# --- edge → client ---------------------------------------------------------------------------
class _Out(Struct, tag_field="type", kw_only=True):
    seq: int = 0
    re: RequestId = None


class Joined(_Out, kw_only=True, tag="joined"):
    participant_id: str
    name: str
    role: str
    grants: GrantsOut
    meeting: MeetingOut
    #: Everyone in the meeting (oneself included).
    roster: list[ParticipantOut] = msgspec.field(default_factory=list)
    #: Moderators only: who waits in the lobby.
    lobby: list[LobbyEntry] = msgspec.field(default_factory=list)
    #: Present in a later ``join`` to take this place back after a dropped socket.
    resume_token: str = ""
    resume_grace: float = 0.0
    #: RTCIceServer dicts for the client's peer connections.
    ice_servers: list[dict] = msgspec.field(default_factory=list)


class Resumed(_Out, kw_only=True, tag="resumed"):
    participant_id: str
    #: Messages replayed after this one (those with ``seq`` > ``last_seq``).
    replayed: int = 0
    #: False when the edge no longer holds every missed message: a full ``joined`` follows.
    complete: bool = True
    #: The peer connections were rebuilt: send a new publish offer; a subscribe offer follows.
    media_restarted: bool = False
    #: With ``media_restarted``: fresh RTCIceServer dicts (new TURN credentials) for the new PCs.
    ice_servers: list[dict] = msgspec.field(default_factory=list)


class Waiting(_Out, kw_only=True, tag="lobby_waiting"):
    participant_id: str
    name: str
    resume_token: str = ""
    resume_grace: float = 0.0


class LobbyList(_Out, kw_only=True, tag="lobby"):
    waiting: list[LobbyEntry] = msgspec.field(default_factory=list)


class Admitted(_Out, kw_only=True, tag="admitted"):
    by: str = ""


class Denied(_Out, kw_only=True, tag="denied"):
    reason: str = ""


class ServerOffer(_Out, kw_only=True, tag="offer"):
    pc: Pc = "subscribe"
    sdp: str


class ServerAnswer(_Out, kw_only=True, tag="answer"):
    pc: Pc = "publish"
    sdp: str


class ServerIce(_Out, kw_only=True, tag="ice"):
    pc: Pc
    candidate: Candidate | None = None


class TrackPublished(_Out, kw_only=True, tag="track_published"):
    track: TrackOut


class TrackUnpublished(_Out, kw_only=True, tag="track_unpublished"):
    participant_id: str
    track_id: str


class Muted(_Out, kw_only=True, tag="muted"):
    participant_id: str
    source: Source
    muted: bool
    #: Who muted: the participant itself, a moderator's id, or ``control-plane``.
    by: str = ""


class HandChanged(_Out, kw_only=True, tag="hand"):
    participant_id: str
    raised: bool
    #: When it was raised (Unix seconds; 0 when lowered): the hand queue is in this order.
    at: float = 0.0
    #: Who changed it: the participant itself, or the moderator who lowered it.
    by: str = ""


class Reaction(_Out, kw_only=True, tag="reaction"):
    participant_id: str
    reaction: Reaction_
    at: float = 0.0


class ChatMessage(_Out, kw_only=True, tag="chat"):
    message_id: str
    #: Sender's participant id and name.
    sender: str
    sender_name: str
    text: str
    #: Empty: to everyone; else the private recipient.
    to: str = ""
    at: float = 0.0


class ActiveSpeaker(_Out, kw_only=True, tag="active_speaker"):
    participant_id: str | None = None


class ParticipantJoined(_Out, kw_only=True, tag="participant_joined"):
    participant: ParticipantOut


class ParticipantUpdated(_Out, kw_only=True, tag="participant_updated"):
    participant: ParticipantOut


class ParticipantLeft(_Out, kw_only=True, tag="participant_left"):
    participant_id: str
    #: "left", "kicked", "timeout", "denied", "edge_stopped".
    reason: str = "left"


class PeerState(_Out, kw_only=True, tag="peer_state"):
    pc: Pc
    state: str


class Kicked(_Out, kw_only=True, tag="kicked"):
    by: str = ""
    reason: str = ""


class MeetingEnded(_Out, kw_only=True, tag="meeting_ended"):
    by: str = ""
    reason: str = ""


class Recording(_Out, kw_only=True, tag="recording"):
    """A recorder entered the meeting on this edge (``active``) or the last one left it."""

    active: bool
    #: Why recording stopped when it failed (e.g. the recorder's disk is full); "" otherwise.
    error: str = ""


class Draining(_Out, kw_only=True, tag="draining"):
    """The edge is stopping: join again (with a fresh token) to move elsewhere."""

    reason: str = ""


class RoomRef(Struct, kw_only=True):
    room_id: str
    name: str


class Breakout(_Out, kw_only=True, tag="breakout"):
    """Breakout rooms: go to a room (``join``), pick one (``choose``), or come back (``return``)."""

    action: Literal["join", "choose", "return"]
    #: The room to go to (``join``); absent otherwise.
    room: RoomRef | None = None
    #: The join answer to enter with, as the control plane's join call gives it: the room
    #: (``join``) or the main meeting (``return``).
    join: dict | None = None
    #: ``choose``: the rooms to pick from.
    rooms: list[RoomRef] = msgspec.field(default_factory=list)
    #: Asks the control plane for a token into a room of the set (``choose``, or again later).
    ticket: str = ""
    #: When the rooms close by themselves (Unix seconds); 0: no timer.
    ends_at: float = 0.0
    main_meeting_id: str = ""


class Notice(_Out, kw_only=True, tag="notice"):
    """A moderator's message to everyone (in every breakout room)."""

    text: str
    sender_name: str = ""
    at: float = 0.0


class Ok(_Out, kw_only=True, tag="ok"):
    pass


class Pong(_Out, kw_only=True, tag="pong"):
    t: float = 0.0


class Error(_Out, kw_only=True, tag="error"):
    #: Machine-readable, e.g. ``bad_json``, ``forbidden`` (the full list: ``docs/protocol.md``).
    code: str
    message: str
    #: The offending field of the request, when one is to blame.
    field: str = ""


ServerMessage = Union[Joined, Resumed, Waiting, LobbyList, Admitted, Denied, ServerOffer, ServerAnswer,
                      ServerIce, TrackPublished, TrackUnpublished, Muted, HandChanged, Reaction, ChatMessage,
                      ActiveSpeaker,
                      ParticipantJoined, ParticipantUpdated, ParticipantLeft, PeerState, Kicked,
                      MeetingEnded, Recording, Draining, Breakout, Notice, Ok, Pong, Error]

# --- one decoder, one encoder ------------------------------------------------------------------
client_decoder = msgspec.json.Decoder(ClientMessage)
server_decoder = msgspec.json.Decoder(ServerMessage)
encoder = msgspec.json.Encoder()


class _Envelope(Struct):
    """Just enough of a bad message to name its request id in the error."""

    id: RequestId = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def request_id_of(data: bytes | str) -> RequestId:
    """The ``id`` of a message that failed to decode, when it can still be read (also from a
    message nested too deeply to decode whole)."""
    try:
        return _envelope_decoder.decode(data).id
    except RecursionError:
        return request_id_of(top_level(data.encode() if isinstance(data, str) else data))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)


def lone_surrogate(data: bytes) -> str:
    """The first ``\\uD800``-style escape in *data* that is half of a surrogate pair without the
    other half (JSON allows the escape; the text it stands for is not Unicode), or ""."""
    found = _LONE_SURROGATE.search(data)
    return found.group().decode() if found else ""


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def top_level(data: bytes) -> bytes:
    """*data* with every value nested inside a top-level value replaced by ``null``: what is left
    of ``{"id": 1, "x": [[[…]]]}`` is ``{"id": 1, "x": null}``, decodable at any depth of the original."""
    kept: list[bytes] = []
    depth, start = 0, 0
    for token in _TOKEN.finditer(data):
        first = token.group()[0]
        if first == 0x22:                    # a string: its brackets do not count
            continue
        if first in (0x5B, 0x7B):            # [ {
            if depth == 1:
                kept += (data[start:token.start()], b"null")
            depth += 1
        else:
            depth -= 1
            if depth == 1:
                start = token.end()
    if depth <= 1:
        kept.append(data[start:])
    return b"".join(kept)


def encode(msg: Struct) -> bytes:
    return encoder.encode(msg)
