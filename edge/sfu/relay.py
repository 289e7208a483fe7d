"""Cascading: relay peer connections between the edges of one meeting.

Between two edges A and B of a meeting there is at most one relay PC per direction. On the sending
edge a :class:`RelayOut` is a subscriber of the room's **local-origin** tracks — the same
:class:`~edge.sfu.subscriber.SubscribeSide` a participant's subscribe PC uses (one ``sendonly``
transceiver per wanted track, serialized renegotiation, keyframe and NACK feedback) with an
:class:`~edge.sfu.egress.Egress` of its own: each packet of a track goes to the other edge once,
however many subscribers that edge has. On the receiving edge a :class:`RelayIn` answers the
offer, taps its receivers like a publish PC (:class:`~edge.sfu.forwarder.ReceiverFeed`) and feeds
one :class:`~edge.sfu.forwarder.TrackSource` per relayed track, attributed to the remote
participant and marked with the edge it came from (``via``). The room's normal fan-out gives it to
local subscribers; keyframe requests travel back over the relay PC as PLI.

A relayed track is never relayed again: a :class:`RelayOut` only takes sources with an empty
``via``, so a track reaches every edge straight from the edge of its publisher and no loop can
form. How offers, answers and wanted tracks travel between edges is not this module's business:
the caller passes the offer on (:class:`RelayEvents`) and hands back the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpTransceiver, RTCSessionDescription
from aiortc.codecs import is_rtx

from . import aiortc_hooks as hooks
from . import sdp
from .egress import Egress
from .forwarder import ReceiverFeed, TrackSource
from .interfaces import RelayEvents, RelayHost, SdpError, TrackInfo
from .peer import rtc_configuration
from .subscriber import SubscribeSide

log = logging.getLogger(__name__)


__all__ = ["RelayEvents", "RelayIn", "RelayOut", "Relays"]


def _state_watcher(pc: RTCPeerConnection, on_state: Callable[[RTCPeerConnection], None]) -> RTCPeerConnection:
    @pc.on("connectionstatechange")
    def changed() -> None:
        on_state(pc)

    return pc


class RelayOut:
    """This edge's local-origin tracks, sent once to one other edge."""

    def __init__(self, room: RelayHost, edge_id: str, events: RelayEvents) -> None:
        self.room = room
        self.edge_id = edge_id
        self.events = events
        self.egress = Egress(room.config.subscriber_queue)
        self.side = SubscribeSide(f"relay-to-{edge_id}", self.egress, self._new_pc, self._offer_ready)
        self.wanted: set[str] = set()
        self.state = "new"
        self.closed = False

    def _new_pc(self, role: str) -> RTCPeerConnection:
        return _state_watcher(RTCPeerConnection(rtc_configuration(self.room.config)), self._on_state)

    def _on_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.side.pc or self.closed:
            return
        self.state = pc.connectionState
        if self.state == "connected":
            transceivers = pc.getTransceivers()
            path = hooks.send_path(transceivers[0].sender.transport) if transceivers else None
            if path is not None:
                self.egress.open(path)
        else:
            self.egress.shut()
        self.room.emit_to(self.events, "on_relay_state", self.edge_id, "out", self.state)

    def _offer_ready(self, offer: str) -> None:
        tracks = {s.transceiver.mid: s.source.info for s in self.side.subs.values()
                  if s.transceiver is not None and s.transceiver.mid is not None}
        self.room.emit_to(self.events, "on_relay_offer", self.edge_id, offer, tracks)

    def want(self, track_ids: list[str]) -> list[str]:
        """Relay exactly these tracks from now on; returns those that will be (local-origin tracks
        of this room: unknown and relayed ones are left out)."""
        self.wanted = set(track_ids)
        return self.sync()

    def sync(self) -> list[str]:
        sources = [self.room.sources[t] for t in sorted(self.wanted)
                   if t in self.room.sources and not self.room.sources[t].via]
        if not self.closed:
            self.side.want(sources)
        return [s.track_id for s in sources]

    async def answer(self, text: str) -> None:
        await self.side.answer(text)

    def sent(self) -> tuple[int, int]:
        """(packets, bytes) of RTP sent on the relay (before SRTP)."""
        return self.egress.sent_packets, self.egress.sent_bytes

    async def close(self) -> None:
        self.closed = True
        await self.side.close()


class RelayIn:
    """Tracks another edge relays to this one, fed into the room as sources."""

    def __init__(self, room: RelayHost, edge_id: str, events: RelayEvents) -> None:
        self.room = room
        self.edge_id = edge_id
        self.events = events
        self.pc: RTCPeerConnection | None = None
        self.state = "new"
        self.closed = False
        self.by_mid: dict[str, TrackSource] = {}
        self._feeds: dict[RTCRtpTransceiver, ReceiverFeed] = {}
        self._lock = asyncio.Lock()

    def _on_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.pc or self.closed:
            return
        self.state = pc.connectionState
        self.room.emit_to(self.events, "on_relay_state", self.edge_id, "in", self.state)

    def _tap(self, transceiver: RTCRtpTransceiver) -> None:
        self._feeds[transceiver] = ReceiverFeed(transceiver.receiver)

    async def offer(self, text: str, tracks: dict[str, TrackInfo]) -> str:
        """Apply the other edge's offer; *tracks* says what each sending m-section carries. Returns
        the answer. Raises :class:`SdpError` (nothing changes) for an unusable offer."""
        async with self._lock:
            if self.closed:
                raise SdpError(f"the relay from {self.edge_id} is closed")
            desc = sdp.parse(text, "offer")
            sending = {m.rtp.muxId: m for m in desc.media if (m.direction or "sendrecv") in sdp.SENDING}
            for mid, media in sending.items():
                info = tracks.get(mid)
                if info is None:
                    raise SdpError(f"mid {mid} sends {media.kind} but the offer names no track for it")
                if info.kind != media.kind:
                    raise SdpError(f"mid {mid} sends {media.kind} but track {info.track_id} is {info.kind}")
                clash = self.room.sources.get(info.track_id)
                if clash is not None and clash.via != self.edge_id:
                    raise SdpError(f"track {info.track_id} already exists on this edge")
            for mid in tracks:
                if mid not in sending:
                    raise SdpError(f"the offer does not send on mid {mid}")
            fresh = self.pc is None
            pc = self.pc or _state_watcher(RTCPeerConnection(rtc_configuration(self.room.config)), self._on_state)
            if fresh:
                hooks.on_new_transceiver(pc, self._tap)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="offer"))
                for t in pc.getTransceivers():
                    hooks.guard_rtcp(t.receiver.transport)
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:  # noqa: BLE001
                if fresh:
                    await pc.close()
                    self._feeds.clear()
                raise SdpError(f"the relay offer was refused: {exc}") from exc
            if self.closed:
                await pc.close()
                raise SdpError(f"the relay from {self.edge_id} closed meanwhile")
            self.pc = pc
            self._apply(pc, tracks)
            return pc.localDescription.sdp

    def _apply(self, pc: RTCPeerConnection, tracks: dict[str, TrackInfo]) -> None:
        by_mid = {t.mid: t for t in pc.getTransceivers()}
        for mid in [m for m, s in self.by_mid.items() if m not in tracks or tracks[m].track_id != s.track_id]:
            self._drop(mid, by_mid.get(mid))
        for mid, info in tracks.items():
            t = by_mid.get(mid)
            feed = self._feeds.get(t) if t is not None else None
            codecs = [c for c in hooks.negotiated(t)[0] if not is_rtx(c)] if t is not None else []
            if feed is None or not codecs:
                log.error("relay from %s: mid %s has no receiver or codec", self.edge_id, mid)
                continue
            assert codecs[0].payloadType is not None   # negotiated: aiortc has set it
            feed.payload_type = codecs[0].payloadType
            if mid not in self.by_mid:
                source = self.room.sources.get(info.track_id)
                if source is None or source.via != self.edge_id or source.origin is not None \
                        or sdp.codec_key(source.codec) != sdp.codec_key(codecs[0]):
                    if source is not None and source.via == self.edge_id:
                        self.room.remove_source(source)
                    source = self.room.add_relayed_source(info, codecs[0], via=self.edge_id)
                # else: kept from a relay that was restarted: its subscribers stay, a new epoch begins
                self.by_mid[mid] = source
                feed.feed(source)
        fed = set(self.by_mid.values())
        for source in [s for s in self.room.sources.values() if s.via == self.edge_id and s not in fed]:
            self.room.remove_source(source)  # kept across a restart, but no longer relayed

    def _drop(self, mid: str, transceiver: RTCRtpTransceiver | None) -> None:
        source = self.by_mid.pop(mid)
        feed = self._feeds.get(transceiver) if transceiver is not None else None
        if feed is not None and feed.source is source:
            feed.feed(None)
        self.room.remove_source(source)

    def received(self) -> tuple[int, int]:
        """(packets, bytes) received for the tracks currently relayed in."""
        return (sum(s.packets_in for s in self.by_mid.values()), sum(s.bytes_in for s in self.by_mid.values()))

    async def close(self, keep: bool = False) -> None:
        """Close the PC; with *keep*, the relayed tracks stay in the room without an origin (and
        their subscribers with them) for the relay that replaces this one."""
        self.closed = True
        async with self._lock:
            for mid in list(self.by_mid):
                if keep:
                    self.by_mid.pop(mid)
                else:
                    self._drop(mid, None)
            for feed in self._feeds.values():
                feed.feed(None)
            self._feeds.clear()
            pc, self.pc = self.pc, None
            if pc is not None:
                await pc.close()


class Relays:
    """A room's relays, by the other edge's id."""

    def __init__(self, room: RelayHost) -> None:
        self.room = room
        self.out: dict[str, RelayOut] = {}
        self.inbound: dict[str, RelayIn] = {}
        self._totals: dict[str, float] = {"relay_packets_sent": 0, "relay_bytes_sent": 0}

    def sending(self, edge_id: str, events: RelayEvents) -> RelayOut:
        """The relay of local tracks to *edge_id* (created when missing)."""
        relay = self.out.get(edge_id)
        if relay is None:
            relay = self.out[edge_id] = RelayOut(self.room, edge_id, events)
        return relay

    def receiving(self, edge_id: str, events: RelayEvents) -> RelayIn:
        """The relay of *edge_id*'s tracks to this edge (created when missing)."""
        relay = self.inbound.get(edge_id)
        if relay is None:
            relay = self.inbound[edge_id] = RelayIn(self.room, edge_id, events)
        return relay

    async def close_out(self, edge_id: str) -> None:
        relay = self.out.pop(edge_id, None)
        if relay is not None:
            packets, octets = relay.sent()
            self._totals["relay_packets_sent"] += packets
            self._totals["relay_bytes_sent"] += octets
            await relay.close()

    async def close_in(self, edge_id: str, keep: bool = False) -> None:
        """Close the relay from *edge_id*. With *keep* its tracks stay (a restart follows);
        without, they leave the room."""
        relay = self.inbound.pop(edge_id, None)
        if relay is not None:
            await relay.close(keep)
        if not keep:
            for source in [s for s in self.room.sources.values() if s.via == edge_id]:
                self.remove_source(source)

    async def close(self) -> None:
        for edge_id in list(self.out):
            await self.close_out(edge_id)
        for edge_id in list(self.inbound):
            await self.close_in(edge_id)

    # --- relayed sources in the room ---

    def add_source(self, info: TrackInfo, codec: RTCRtpCodecParameters, via: str) -> TrackSource:
        return self.room.add_relayed_source(info, codec, via)

    def remove_source(self, source: TrackSource) -> None:
        self.room.remove_source(source)

    def sync(self) -> None:
        """Local tracks changed: every relay drops what is gone."""
        for relay in self.out.values():
            relay.sync()

    def stats(self) -> dict[str, float]:
        x = dict(self._totals)
        for relay in self.out.values():
            packets, octets = relay.sent()
            x["relay_packets_sent"] += packets
            x["relay_bytes_sent"] += octets
        x["relay_packets_received"] = sum(r.received()[0] for r in self.inbound.values())
        x["relay_bytes_received"] = sum(r.received()[1] for r in self.inbound.values())
        x["relays_out"] = len(self.out)
        x["relays_in"] = len(self.inbound)
        x["relayed_streams_out"] = sum(len(r.side.mids()) for r in self.out.values())
        return x
