"""One meeting's media on this edge: the concrete :class:`~edge.sfu.interfaces.ForwardingRoom`.

The room knows the participants (:class:`~edge.sfu.peer.Peer`) and the published tracks
(:class:`~edge.sfu.forwarder.TrackSource`); every participant allowed to subscribe receives every
other participant's tracks. When a track is published or unpublished, every subscriber's
subscribe PC is renegotiated. Events go to the conference layer through
:class:`~edge.sfu.interfaces.RoomEvents`; an exception raised by a handler is logged, never
propagated into the media path.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Mapping

from aiortc import RTCRtpCodecParameters

from . import aiortc_hooks as hooks
from .adaptation import Adaptation
from .bridge import BRIDGEABLE, Bridge
from .forwarder import TrackSource
from .interfaces import (
    GrantError,
    Grants,
    IceCandidate,
    PcRole,
    RoomEvents,
    RoomStats,
    SdpError,
    SfuConfig,
    TrackInfo,
    UnknownPeerError,
    UnknownTrackError,
)
from .peer import Peer, Publication, rtc_configuration
from .relay import Relays
from .sdp import Published, codec_key
from .speaker import ActiveSpeaker

log = logging.getLogger(__name__)

_hooks_checked = False


def _refused(participant_id: str, what: str, exc: Exception) -> None:
    log.warning("%s refused: participant %s: %s", what, participant_id, exc,
                extra={"participant": participant_id, "reason": str(exc)})


def _check_hooks() -> None:
    global _hooks_checked
    if not _hooks_checked:
        hooks.check()
        _hooks_checked = True


class Room:
    """Forwards every published track to every other participant allowed to subscribe."""

    def __init__(self, room_id: str, events: RoomEvents, config: SfuConfig | None = None) -> None:
        config = config or SfuConfig()
        if config.keyframe_min_interval < 0:
            raise ValueError("keyframe_min_interval must not be negative")
        if config.subscriber_queue < 1:
            raise ValueError("subscriber_queue must be at least 1")
        rtc_configuration(config)  # refuses malformed ice_servers now rather than at the first join
        _check_hooks()
        self.room_id = room_id
        self.events = events
        self.config = config
        self.peers: dict[str, Peer] = {}
        self.sources: dict[str, TrackSource] = {}
        self.speaker = ActiveSpeaker(config.speaker_threshold, config.speaker_interval,
                                     lambda pid: self.emit("on_active_speaker", pid))
        self._totals = RoomStats()
        #: Relay peer connections to and from the meeting's other edges (cascading).
        self.relays = Relays(self)
        #: Bandwidth adaptation (None: off).
        self.adaptation = Adaptation(self) if config.adaptation else None
        #: Transcoding bridges by (track id, target codec), while a subscriber needs one.
        self.bridges: dict[tuple[str, str], Bridge] = {}
        self.closed = False

    def emit(self, name: str, *args: object) -> None:
        self.emit_to(self.events, name, *args)

    @staticmethod
    def emit_to(target: object, name: str, *args: object) -> None:
        try:
            getattr(target, name)(*args)
        except Exception:  # noqa: BLE001 — the conference layer's bug must not stop the media
            log.exception("%s.%s raised", type(target).__name__, name)

    def _peer(self, participant_id: str) -> Peer:
        peer = self.peers.get(participant_id)
        if peer is None:
            raise UnknownPeerError(f"no participant {participant_id!r} in room {self.room_id!r}")
        return peer

    # --- the ForwardingRoom interface ---

    async def add_peer(self, participant_id: str, grants: Grants) -> None:
        if self.closed:
            raise RuntimeError(f"room {self.room_id!r} is closed")
        if not isinstance(participant_id, str) or not participant_id:
            raise ValueError("a participant id must be a non-empty string")
        if participant_id in self.peers:
            raise ValueError(f"participant {participant_id!r} is already in room {self.room_id!r}")
        peer = Peer(self, participant_id, grants)
        self.peers[participant_id] = peer
        if self.adaptation is not None:
            self.adaptation.start()
        self._sync(peer)

    async def remove_peer(self, participant_id: str) -> None:
        peer = self._peer(participant_id)
        del self.peers[participant_id]
        for source in [s for s in self.sources.values() if s.info.participant_id == participant_id]:
            self._remove_source(source)
        self.speaker.forget(participant_id)
        await peer.close()
        self._add_totals(peer)
        self._prune_bridges()

    async def publisher_offer(self, participant_id: str, sdp: str, sources: dict[str, str]) -> str:
        peer = self._peer(participant_id)
        try:
            return await peer.publish(sdp, sources)
        except (SdpError, GrantError) as exc:
            _refused(participant_id, "offer", exc)
            raise

    async def subscriber_answer(self, participant_id: str, sdp: str) -> None:
        peer = self._peer(participant_id)
        try:
            await peer.subscriber.answer(sdp)
        except SdpError as exc:
            _refused(participant_id, "answer", exc)
            raise

    async def add_ice_candidate(self, participant_id: str, pc: PcRole, candidate: IceCandidate) -> None:
        if pc not in ("publish", "subscribe"):
            raise ValueError(f"pc must be 'publish' or 'subscribe', not {pc!r}")
        await self._peer(participant_id).add_ice_candidate(pc, candidate)

    async def restart(self, participant_id: str) -> None:
        await self._peer(participant_id).restart()

    def set_track_muted(self, track_id: str, muted: bool) -> None:
        source = self.sources.get(track_id)
        if source is None:
            raise UnknownTrackError(f"no track {track_id!r} in room {self.room_id!r}")
        source.info = dataclasses.replace(source.info, muted=muted)
        source.set_muted(muted)
        for bridge in [b for b in self.bridges.values() if b.source is source]:
            bridge.output.set_muted(muted)
            if not muted:
                bridge.ask_source()
        if muted and source.kind == "audio":
            self.speaker.forget(source.info.participant_id)

    def set_grants(self, participant_id: str, grants: Grants) -> None:
        peer = self._peer(participant_id)
        peer.grants = grants
        for publication in list(peer.publications.values()):
            if publication.source_name not in grants.publish:
                peer.unpublish_source(publication.source_name)
        self._sync(peer)

    def set_subscriber_bitrate(self, participant_id: str, bits_per_second: int | None) -> None:
        self._peer(participant_id).egress.set_rate(bits_per_second)

    def set_view(self, participant_id: str, tiles: Mapping[str, tuple[int, int]], hidden: frozenset[str]) -> None:
        peer = self._peer(participant_id)
        if self.adaptation is not None:
            self.adaptation.set_view(peer, tiles, hidden)

    def decide(self, peer: Peer) -> None:
        """Choose *peer*'s layers now (its subscriptions changed)."""
        if self.adaptation is not None:
            self.adaptation.decide(peer)

    def subscriptions(self, participant_id: str) -> dict[str, str]:
        return self._peer(participant_id).subscriber.mids()

    def tracks(self) -> list[TrackInfo]:
        return [s.info for s in self.sources.values()]

    def stats(self) -> RoomStats:
        t = self._totals
        stats = RoomStats(peers=len(self.peers), tracks=len(self.sources),
                          forwarded_streams=sum(len(s.downtracks) for s in self.sources.values()),
                          packets_forwarded=t.packets_forwarded, bytes_forwarded=t.bytes_forwarded,
                          packets_dropped=t.packets_dropped, keyframe_requests=t.keyframe_requests,
                          extra=dict(t.extra), packets_by_kind=dict(t.packets_by_kind),
                          bytes_by_kind=dict(t.bytes_by_kind), layer_switches=t.layer_switches)
        for peer in self.peers.values():
            self._add_egress(stats, peer)
            for role, state in peer.connection_states().items():
                key = f"{role}:{state}"
                stats.peer_states[key] = stats.peer_states.get(key, 0) + 1
        for source in self.sources.values():
            stats.keyframe_requests += source.keyframes_sent()
            stats.extra["keyframe_requests_received"] = (stats.extra.get("keyframe_requests_received", 0)
                                                         + source.keyframes_requested())
            stats.extra["packets_received"] = stats.extra.get("packets_received", 0) + source.packets_in
            stats.extra["bytes_received"] = stats.extra.get("bytes_received", 0) + source.bytes_in
        stats.extra.update(self.relays.stats())
        stats.forwarded_streams += sum(len(b.output.downtracks) for b in self.bridges.values())
        stats.extra["bridges"] = len(self.bridges)
        stats.extra["bridge_frames_out"] = sum(b.frames_out for b in self.bridges.values())
        return stats

    async def close(self) -> None:
        self.closed = True
        for peer in self.peers.values():
            peer.subscriber.closed = True  # no renegotiation while everyone leaves
        await self.relays.close()
        for participant_id in list(self.peers):
            await self.remove_peer(participant_id)
        self.speaker.close()
        for bridge in self.bridges.values():
            bridge.close()
        self.bridges.clear()
        if self.adaptation is not None:
            self.adaptation.close()

    # --- called by peers ---

    def publish(self, peer: Peer, publication: Publication, item: Published) -> None:
        """A publish offer was accepted: feed an existing (orphaned) track or publish a new one."""
        layers = len(item.simulcast.rids) if item.simulcast is not None else 1
        source = next((s for s in self.sources.values()
                       if s.origin is None and s.info.participant_id == peer.id and s.info.source == item.source
                       and codec_key(s.codec) == codec_key(item.codec) and s.layers == layers), None)
        new = source is None
        if source is None:
            info = TrackInfo(track_id="TR_" + secrets.token_hex(6), participant_id=peer.id, kind=item.kind,  # type: ignore[arg-type]
                             source=item.source, codec=item.codec.name)  # type: ignore[arg-type]
            source = TrackSource(info, item.codec, self.config.keyframe_min_interval,
                                 on_level=self.speaker.observe if item.kind == "audio" else None, layers=layers)
            self.sources[info.track_id] = source
        publication.source = source
        publication.feed.feed(source)
        if new:
            self.emit("on_track_published", source.info)
            self._sync_all()

    def unpublish(self, peer: Peer, publication: Publication) -> None:
        publication.feed.feed(None)
        if publication.source is not None and publication.source.track_id in self.sources:
            self._remove_source(publication.source)

    def drop_orphans(self, peer: Peer) -> None:
        """After a restart, tracks the participant did not publish again are gone."""
        fed = {p.source for p in peer.publications.values()}
        for source in [s for s in self.sources.values()
                       if s.info.participant_id == peer.id and s.origin is None and s not in fed]:
            self._remove_source(source)

    # --- called by relays (RelayHost) ---

    def add_relayed_source(self, info: TrackInfo, codec: RTCRtpCodecParameters, via: str) -> TrackSource:
        source = TrackSource(info, codec, self.config.keyframe_min_interval,
                             on_level=self.speaker.observe if info.kind == "audio" else None)
        source.via = via
        self.sources[info.track_id] = source
        self._sync_all()
        return source

    def remove_source(self, source: TrackSource) -> None:
        if self.sources.get(source.track_id) is source:
            self._remove_source(source)

    def _remove_source(self, source: TrackSource) -> None:
        del self.sources[source.track_id]
        self._totals.keyframe_requests += source.keyframes_sent()
        x = self._totals.extra
        x["keyframe_requests_received"] = x.get("keyframe_requests_received", 0) + source.keyframes_requested()
        x["packets_received"] = x.get("packets_received", 0) + source.packets_in
        x["bytes_received"] = x.get("bytes_received", 0) + source.bytes_in
        self._sync_all()
        source.close()
        if source.kind == "audio":
            self.speaker.forget(source.info.participant_id)
        if not source.via:  # a relayed track's coming and going is told by the edge that has its publisher
            self.emit("on_track_unpublished", source.info)

    def _sync(self, peer: Peer) -> None:
        if peer.closed:
            return
        wanted = ([self._deliverable(peer, s) for s in self.sources.values() if s.info.participant_id != peer.id]
                  if peer.grants.subscribe else [])
        peer.subscriber.want(wanted)
        self._prune_bridges()

    def _deliverable(self, peer: Peer, source: TrackSource) -> TrackSource:
        """*source*, or its bridge into a codec *peer* can decode (see :mod:`edge.sfu.bridge`)."""
        codecs = peer.grants.video_codecs
        name = source.codec.name.lower()
        if source.kind != "video" or not codecs or name in codecs or name not in BRIDGEABLE:
            return source
        target = next((c for c in sorted(codecs) if c in BRIDGEABLE), None)
        if target is None:
            return source
        bridge = self.bridges.get((source.track_id, target))
        if bridge is None or bridge.source is not source:
            if bridge is not None:
                bridge.close()
            bridge = Bridge(source, target, self.config.keyframe_min_interval)
            self.bridges[(source.track_id, target)] = bridge
            log.info("bridge %s %s → %s opened in room %s", source.track_id, source.codec.name, target,
                     self.room_id)
        return bridge.output

    def _prune_bridges(self) -> None:
        """Close the bridges no subscriber receives any more."""
        if not self.bridges:
            return
        used = {id(sub.source) for peer in self.peers.values() for sub in peer.subscriber.subs.values()}
        for key, bridge in list(self.bridges.items()):
            if id(bridge.output) not in used or self.sources.get(bridge.source.track_id) is not bridge.source:
                del self.bridges[key]
                bridge.close()
                log.info("bridge %s → %s closed in room %s", key[0], key[1], self.room_id)

    def _sync_all(self) -> None:
        for peer in self.peers.values():
            self._sync(peer)
        self.relays.sync()

    @staticmethod
    def _add_egress(stats: RoomStats, peer: Peer) -> None:
        e = peer.egress
        stats.packets_forwarded += e.sent_packets
        stats.bytes_forwarded += e.sent_bytes
        stats.packets_dropped += e.dropped
        packets, octets, switches = e.by_kind()
        for kind, n in packets.items():
            stats.packets_by_kind[kind] = stats.packets_by_kind.get(kind, 0) + n
        for kind, n in octets.items():
            stats.bytes_by_kind[kind] = stats.bytes_by_kind.get(kind, 0) + n
        stats.layer_switches += switches
        x = stats.extra
        x["packets_unsent"] = x.get("packets_unsent", 0) + e.unsent
        x["max_queue_depth"] = max(x.get("max_queue_depth", 0), e.max_depth)
        for dt in e.downtracks:
            x["video_packets_held"] = x.get("video_packets_held", 0) + dt.held
            x["packets_retransmitted"] = x.get("packets_retransmitted", 0) + dt.retransmitted

    def _add_totals(self, peer: Peer) -> None:
        self._add_egress(self._totals, peer)
