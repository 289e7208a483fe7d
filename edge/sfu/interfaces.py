"""The seam between the conference layer (who is in a meeting, what they may do, signaling) and the
forwarding core (peer connections and media).

Each participant has two peer connections: a **publish** PC (the client offers, the edge
answers; it carries what the participant sends) and a **subscribe** PC (the edge offers, the
client answers; it carries everything the participant receives). Two PCs mean the two sides never
offer on the same connection at once (no glare), and tracks can come and go on the subscribe PC
by edge-initiated renegotiation alone.

The conference layer owns a :class:`ForwardingRoom` per meeting and implements
:class:`RoomEvents` to hear from it. All calls happen on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from .forwarder import TrackSource

Kind = Literal["audio", "video"]
Source = Literal["microphone", "camera", "screen"]
PcRole = Literal["publish", "subscribe"]


class SdpError(ValueError):
    """An offer or answer that cannot be used (unparsable, no usable codec, wrong direction, …)."""


class GrantError(PermissionError):
    """The participant tried to send something its grants do not allow."""


class UnknownPeerError(LookupError):
    """The room has no participant with that id (never added, or already removed)."""


class UnknownTrackError(LookupError):
    """The room has no track with that id."""


@dataclass(frozen=True)
class Grants:
    #: Sources the participant may publish (empty: receive only).
    publish: frozenset[str] = frozenset()
    #: May receive the others' media.
    subscribe: bool = True
    #: Video codecs the participant's client can decode (lower-case names, e.g. {"h264"});
    #: empty: any. A track in another codec reaches it through a transcoding bridge.
    video_codecs: frozenset[str] = frozenset()
    #: Receives every track at its top layer, with no bandwidth adaptation (a recorder: it writes
    #: the best quality there is, and sits on a link the operator provides).
    full_quality: bool = False


@dataclass(frozen=True)
class TrackInfo:
    #: Stable id used in the protocol and the roster.
    track_id: str
    participant_id: str
    kind: Kind
    source: Source
    #: Negotiated codec, e.g. "opus", "VP8", "H264".
    codec: str = ""
    muted: bool = False


@dataclass(frozen=True)
class IceCandidate:
    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@dataclass
class RoomStats:
    peers: int = 0
    tracks: int = 0
    #: (track, subscriber) pairs being forwarded.
    forwarded_streams: int = 0
    packets_forwarded: int = 0
    bytes_forwarded: int = 0
    packets_dropped: int = 0
    keyframe_requests: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    #: Packets and RTP payload bytes sent to subscribers, by kind ("audio", "video").
    packets_by_kind: dict[str, int] = field(default_factory=dict)
    bytes_by_kind: dict[str, int] = field(default_factory=dict)
    #: Times a subscriber's video moved to another simulcast layer.
    layer_switches: int = 0
    #: Peer connections now, by "role:state" (e.g. "subscribe:connected").
    peer_states: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SfuConfig:
    #: STUN/TURN servers for the edge's own ICE agent (RTCIceServer-like dicts). Empty: host
    #: candidates only (never a public STUN server by default: installs may be offline).
    ice_servers: tuple[dict[str, Any], ...] = ()
    #: More ICE servers for the edge's own agent, made afresh for each peer connection (the edge's
    #: own short-lived TURN credentials); aiortc uses the first TURN URL it is given.
    turn_servers: Callable[[], tuple[dict[str, Any], ...]] | None = None
    #: "relay": the edge uses only relayed candidates (its TURN server) — for an edge that
    #: cannot be reached directly; "all": host, server-reflexive and relayed.
    ice_transport_policy: str = "all"
    #: At most one keyframe request per publisher track in this many seconds.
    keyframe_min_interval: float = 0.5
    #: Packets a subscriber may have queued before the oldest are dropped (slow subscribers).
    subscriber_queue: int = 256
    #: Audio level (RFC 6464: 0..127, in -dBov, 127 is silence) above which audio counts as
    #: silence for the active speaker: a level of 60 or less (louder than -60 dBov) is speech.
    speaker_threshold: int = 60
    #: Seconds between active-speaker decisions.
    speaker_interval: float = 0.2
    #: Bandwidth adaptation: estimate each subscriber's downlink from its feedback and choose
    #: (or pause) the layers it receives to fit; tell publishers (REMB) what is used. Off: every
    #: subscriber gets every track's top layer, as fast as it comes.
    adaptation: bool = True
    #: Called once per subscriber with the seconds from its joining (or the track's publication,
    #: when later) to the first video packet sent to it; None: not measured.
    on_first_frame: Callable[[float], None] | None = None


class RoomEvents(Protocol):
    """What a :class:`ForwardingRoom` tells the conference layer."""

    def on_track_published(self, track: TrackInfo) -> None: ...

    def on_track_unpublished(self, track: TrackInfo) -> None: ...

    def on_active_speaker(self, participant_id: str | None) -> None: ...

    def on_subscriber_offer(self, participant_id: str, sdp: str) -> None:
        """The edge wants to (re)negotiate the participant's subscribe PC: send this offer."""

    def on_peer_state(self, participant_id: str, pc: PcRole, state: str) -> None:
        """A PC's connection state changed ("connecting", "connected", "failed", "closed")."""


class ForwardingRoom(Protocol):
    """One meeting's media on this edge."""

    room_id: str

    async def add_peer(self, participant_id: str, grants: Grants) -> None:
        """Add a participant. Its first subscriber offer comes as soon as there is something for
        it to receive (at once if others already publish)."""

    async def remove_peer(self, participant_id: str) -> None: ...

    async def publisher_offer(self, participant_id: str, sdp: str, sources: dict[str, str]) -> str:
        """Apply the client's offer on its publish PC and return the answer.

        *sources* maps each sending transceiver's ``mid`` to its source ("microphone", "camera",
        "screen"). Raises :class:`SdpError` or :class:`GrantError`; on either, nothing changes.
        """

    async def subscriber_answer(self, participant_id: str, sdp: str) -> None: ...

    async def add_ice_candidate(self, participant_id: str, pc: PcRole, candidate: IceCandidate) -> None: ...

    async def restart(self, participant_id: str) -> None:
        """Media for the participant broke (resume after a network change): rebuild its PCs;
        a fresh subscriber offer follows through :meth:`RoomEvents.on_subscriber_offer` (when it
        has something to receive). Its published tracks stay, with their ids, and are fed again
        by its next publish offer; tracks that offer does not publish again are unpublished."""

    def set_track_muted(self, track_id: str, muted: bool) -> None:
        """Stop (or resume) forwarding a track to everyone — a moderator's or the owner's mute."""

    def set_grants(self, participant_id: str, grants: Grants) -> None:
        """Replace the participant's grants. Tracks it may no longer publish are unpublished; if
        it may no longer subscribe, its subscriptions are dropped (a new offer follows)."""

    def set_subscriber_bitrate(self, participant_id: str, bits_per_second: int | None) -> None:
        """Cap what the edge sends the participant (None: no cap). Packets over the cap wait
        in the participant's bounded queue; when it overflows, the oldest are dropped (video
        then waits for the next keyframe)."""

    def set_view(self, participant_id: str, tiles: Mapping[str, tuple[int, int]], hidden: frozenset[str]) -> None:
        """What the participant shows (replacing what it said before): each track in *tiles* in a
        tile of (width, height) device pixels (0 × 0: size unknown), the *hidden* ones not at all.
        The edge sends a shown track the smallest layer that covers its tile, nothing for a hidden
        one. Raises :class:`UnknownTrackError` (nothing changed) for a track the room does not have."""

    def subscriptions(self, participant_id: str) -> dict[str, str]:
        """The participant's subscribe PC as last negotiated: ``mid`` → ``track_id``. The SDP
        says the same in each m-section's ``a=msid:<publisher id> <track id>``."""

    def tracks(self) -> list[TrackInfo]: ...

    def stats(self) -> RoomStats: ...

    async def close(self) -> None: ...


# --- cascading: a room's relays to and from the meeting's other edges ---------------------------
class RelayEvents(Protocol):
    """What a room's relays tell the mesh (which carries offers and answers between edges)."""

    def on_relay_offer(self, edge_id: str, sdp: str, tracks: dict[str, TrackInfo]) -> None:
        """Send this offer (``mid`` → the track each m-section carries) to *edge_id*; its answer
        goes to :meth:`RelayOutLink.answer`."""

    def on_relay_state(self, edge_id: str, direction: str, state: str) -> None:
        """A relay PC (*direction* "out" or "in") changed state."""


class RelayOutLink(Protocol):
    """This edge's local-origin tracks, sent to one other edge."""

    state: str

    def want(self, track_ids: list[str]) -> list[str]:
        """Relay exactly these tracks from now on; returns those that will be."""

    async def answer(self, text: str) -> None: ...


class RelayInLink(Protocol):
    """Tracks another edge relays to this one."""

    state: str

    async def offer(self, text: str, tracks: dict[str, TrackInfo]) -> str:
        """Apply the other edge's offer and return the answer; raises :class:`SdpError`."""


class RelayLinks(Protocol):
    """A room's relays, by the other edge's id, as the mesh drives them."""

    @property
    def out(self) -> Mapping[str, RelayOutLink]: ...

    @property
    def inbound(self) -> Mapping[str, RelayInLink]: ...

    def sending(self, edge_id: str, events: RelayEvents) -> RelayOutLink: ...

    def receiving(self, edge_id: str, events: RelayEvents) -> RelayInLink: ...

    async def close_out(self, edge_id: str) -> None: ...

    async def close_in(self, edge_id: str, keep: bool = False) -> None:
        """With *keep*, the relayed tracks stay (a restart follows); without, they leave the room."""


@runtime_checkable
class CascadingRoom(ForwardingRoom, Protocol):
    """A forwarding room that can relay tracks to and from the meeting's other edges."""

    @property
    def relays(self) -> RelayLinks: ...


class RelayHost(Protocol):
    """What a room's relays need from the room (the room's own side of cascading)."""

    @property
    def config(self) -> SfuConfig: ...

    @property
    def sources(self) -> Mapping[str, TrackSource]:
        """Every track in the room (local and relayed), by id."""

    def add_relayed_source(self, info: TrackInfo, codec: RTCRtpCodecParameters, via: str) -> TrackSource:
        """A track relayed from edge *via* joins the room; subscribers and relays are updated."""

    def remove_source(self, source: TrackSource) -> None:
        """A track leaves the room (nothing happens if *source* is no longer the room's)."""

    def emit_to(self, target: Any, name: str, *args: object) -> None:
        """Call ``target.name(*args)``; what it raises is logged, never propagated into media."""

