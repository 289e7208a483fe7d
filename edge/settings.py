"""Edge settings (TOML → msgspec). Annotated example: ``configs/edge.toml``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nodes.metrics import MetricsSettings
from nodes.settings import Base, HttpSettings, LogSettings, NatsSettings, resolve_secret


class HeartbeatSettings(Base, kw_only=True):
    #: Seconds between heartbeats; the control plane drops an edge after three missed ones.
    interval: float = 2.0


class AuthSettings(Base, kw_only=True):
    """Where the public keys that verify join tokens come from."""

    #: A JWKS file (the control plane serves it at ``/api/v1/jwks``); empty: ask the control
    #: plane over NATS (``cc.cp.jwks``) at start and whenever a token names an unknown key.
    jwks_file: str = ""
    #: Seconds of clock skew tolerated on ``exp`` / ``nbf``.
    leeway: float = 5.0
    #: A token naming an unknown key makes the edge reload its keys, at most once per this many seconds.
    refresh_interval: float = 10.0


class SignalingSettings(Base, kw_only=True):
    #: Allowed ``Origin`` values for browser connections (exact match); empty list: any origin.
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    #: Largest signaling message accepted, bytes; a larger frame gets an error reply.
    max_message_bytes: int = 65536
    #: Seconds a participant whose socket dropped keeps its place and may resume.
    resume_grace: float = 30.0
    #: Seconds without any client message (ping included) before the socket is closed.
    idle_timeout: float = 60.0
    #: Seconds a new socket has to send its ``join``.
    join_timeout: float = 10.0
    #: Messages queued for one client before it counts as too slow and is disconnected.
    send_queue: int = 256
    #: Messages kept per participant for replay on resume (older ones: a full ``joined`` instead).
    replay_messages: int = 512
    #: Longest chat message, characters.
    chat_max_chars: int = 2000


class EventsSettings(Base, kw_only=True):
    """The outbox through which events reach JetStream."""

    #: Events held while JetStream is unreachable; beyond this the oldest are dropped (and logged).
    outbox_limit: int = 10000
    #: Seconds to wait for JetStream's ack of one event before retrying it.
    publish_timeout: float = 2.0
    #: Seconds an orderly stop spends publishing what is still queued.
    flush_timeout: float = 5.0


class CommandsSettings(Base, kw_only=True):
    """Commands from the control plane (``cc.cmd.<meeting>.*``)."""

    #: Seconds before answering "not here" for a participant this edge does not host, so the
    #: reply of the edge that does host it arrives first.
    not_here_delay: float = 0.25
    #: Command ids remembered, so a repeated command is carried out once.
    remember: int = 4096
    #: Seconds a moderator's ``record`` request waits for the control plane (which waits up to
    #: its ``recordings.start_timeout`` for a recorder to be seated).
    record_timeout: float = 20.0


class MeshSettings(Base, kw_only=True):
    """Cascading: how the edges of one meeting keep each other informed (``cc.relay.>``)."""

    #: Seconds between two mesh states of a meeting when nothing changes (a change is sent at once).
    state_interval: float = 2.0
    #: Seconds without a mesh state after which another edge counts as gone from the meeting.
    edge_timeout: float = 6.0
    #: Seconds to wait for another edge's reply (relay signaling, a moderator's action).
    request_timeout: float = 3.0
    #: Seconds before a relay that does not come up (or whose request failed) is asked for again.
    relay_retry: float = 5.0
    #: Seconds a departure (and its reason) stays in the mesh state.
    departed_memory: float = 30.0
    #: JetStream domain of the placement bucket the edge reads to know which edges are part of a
    #: meeting ("": the edge's own, ``nats.jetstream_domain``; on a regional leaf node: "hub").
    placement_domain: str = ""
    #: Seconds a placement entry read for the mesh is kept before it is read again.
    placement_ttl: float = 2.0
    #: Seconds a chat, action or end from an edge the placement does not name (yet) is held
    #: (checked again) before it is refused.
    placement_wait: float = 10.0


class MemorySettings(Base, kw_only=True):
    #: Seconds between handing the memory the C allocator keeps after participants left back to
    #: the system (glibc's ``malloc_trim``, on a worker thread); 0: never.
    trim_interval: Annotated[float, msgspec.Meta(ge=0)] = 60.0


class SfuSettings(Base, kw_only=True):
    #: STUN/TURN servers for the edge's own ICE agent, e.g. [{urls = "stun:stun.example.org"}]. Those
    #: without ``username``/``credential`` (STUN) are also handed to clients; those with stay here.
    ice_servers: list[dict] = msgspec.field(default_factory=list)
    #: "relay": the edge's own ICE agent uses only relayed candidates (an edge that clients cannot
    #: reach directly; needs a TURN server here or ``turn.for_edge``); "all": every kind.
    ice_transport_policy: Literal["all", "relay"] = "all"
    #: At most one keyframe request per published video track in this many seconds.
    keyframe_min_interval: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    #: Packets a subscriber may have queued before the oldest are dropped (slow subscribers).
    subscriber_queue: Annotated[int, msgspec.Meta(ge=8)] = 256
    #: RFC 6464 audio level (0 loudest … 127 silence, in -dBov) at or under which audio counts
    #: as speech for the active speaker.
    speaker_threshold: Annotated[int, msgspec.Meta(ge=0, le=127)] = 60
    #: Seconds between active-speaker decisions.
    speaker_interval: Annotated[float, msgspec.Meta(gt=0)] = 0.2
    #: Bandwidth adaptation: fit what each subscriber receives to its downlink (layers, pauses)
    #: and what publishers send to what is used. Off: everyone gets every track's top layer.
    adaptation: bool = True


TURN_SCHEMES = ("turn:", "turns:")


class TurnSettings(Base, kw_only=True):
    """TURN relays for clients that cannot reach the edge over UDP (coturn with ``use-auth-secret``).

    Each participant gets its own credentials in ``joined.ice_servers``: ``username`` is
    ``<expiry unix time>:<participant id>``, ``credential`` is base64(HMAC-SHA1(secret, username)).
    The secret itself never leaves the edge.
    """

    #: TURN URLs handed to clients, e.g. ``["turn:turn.example.org:3478?transport=udp",
    #: "turn:turn.example.org:3478?transport=tcp", "turns:turn.example.org:443?transport=tcp"]``;
    #: empty: no TURN.
    urls: list[str] = msgspec.field(default_factory=list)
    #: coturn's ``static-auth-secret``; or read it from ``secret_file`` / ``secret_env`` (exactly one).
    secret: str = ""
    secret_file: str = ""
    secret_env: str = ""
    #: Seconds a participant's credentials stay valid (a relay cannot be allocated or refreshed
    #: after that; a rejoin or an incomplete resume hands out new ones).
    ttl: Annotated[int, msgspec.Meta(ge=60, le=7 * 86400)] = 6 * 3600
    #: The edge's own ICE agent also gathers relayed candidates on the first of these URLs, with
    #: credentials it makes for itself (``<expiry>:edge-<edge id>``) for each peer connection.
    for_edge: bool = False

    def __post_init__(self) -> None:
        resolve_secret(self, "secret")
        for i, url in enumerate(self.urls):
            problem = turn_url_problem(url)
            if problem:
                raise ValueError(f"`urls`: urls[{i}] {url!r}: {problem}")
        if self.urls and not self.secret:
            raise ValueError("`secret`: TURN urls need the shared secret (secret, secret_file or secret_env)")


def turn_url_problem(url: str) -> str:
    """Why *url* is not a TURN URL a browser accepts (RFC 7065), or "" when it is."""
    if not url.startswith(TURN_SCHEMES):
        return "must start with turn: or turns:"
    rest, _, query = url.partition("?")
    host = rest.split(":", 1)[1]
    if not host or host.startswith("/"):
        return "names no host"
    if host.startswith("["):
        host, _, port = host.partition("]")
        port = port[1:] if port.startswith(":") else port
    else:
        host, _, port = host.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"bad port {port!r}"
    if query:
        key, _, value = query.partition("=")
        if key != "transport" or value not in ("udp", "tcp"):
            return "the only query allowed is ?transport=udp or ?transport=tcp"
        if url.startswith("turns:") and value == "udp":
            return "turns: (TLS) runs over TCP, not UDP"
    return ""


class Settings(Base, kw_only=True):
    #: Unique id of this edge (letters, digits, ``-`` and ``_``).
    edge_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    #: The machine this edge runs on, when it is one of several workers there (``edge.workers``
    #: sets it); "" for an edge alone on its machine. Heartbeats carry it.
    machine: str = ""
    #: Region the edge serves; placement prefers edges in the participant's region.
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "local"
    #: Signaling URL handed to clients (``ws://`` or ``wss://``), as they can reach it.
    public_url: str = "ws://127.0.0.1:8081/ws"
    http: HttpSettings = msgspec.field(default_factory=lambda: HttpSettings(port=8081))
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    heartbeat: HeartbeatSettings = msgspec.field(default_factory=HeartbeatSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    signaling: SignalingSettings = msgspec.field(default_factory=SignalingSettings)
    sfu: SfuSettings = msgspec.field(default_factory=SfuSettings)
    turn: TurnSettings = msgspec.field(default_factory=TurnSettings)
    events: EventsSettings = msgspec.field(default_factory=EventsSettings)
    commands: CommandsSettings = msgspec.field(default_factory=CommandsSettings)
    mesh: MeshSettings = msgspec.field(default_factory=MeshSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    memory: MemorySettings = msgspec.field(default_factory=MemorySettings)

    def __post_init__(self) -> None:
        if self.sfu.ice_transport_policy == "relay" and not (self.turn.for_edge and self.turn.urls) and not any(
                str(url).startswith(TURN_SCHEMES) for server in self.sfu.ice_servers if isinstance(server, dict)
                for url in (server.get("urls") if isinstance(server.get("urls"), list) else [server.get("urls")])):
            raise ValueError("`sfu`: ice_transport_policy \"relay\" needs a TURN server ([turn] for_edge, or a"
                             " turn: URL in sfu.ice_servers)")
