"""A publisher's RTP receiver as the origin of a :class:`~edge.sfu.forwarder.TrackSource`.

The receiver is tapped (:func:`~edge.sfu.aiortc_hooks.tap_receiver`) so its packets reach the
feed before anything else; RTX (RFC 4588) is unwrapped into the packet it repairs.

A simulcast m-section (:mod:`edge.sfu.simulcast`) brings one RTP stream per layer, each with an
SSRC that no ``a=ssrc`` line announced: the first packet of each carries its ``rid`` in the
rtp-stream-id header extension (RTX packets name the stream they repair in
repaired-rtp-stream-id), and from then on its SSRC says which layer it is. Packets with no rid,
or a rid the offer did not list, are not forwarded. Keyframe requests go to one layer's SSRC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket, unwrap_rtx

from . import aiortc_hooks as hooks

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiortc import RTCRtpReceiver

    from .forwarder import TrackSource


class ReceiverFeed:
    """A publisher's RTP receiver (publish PC) as the origin of a :class:`TrackSource`."""

    def __init__(self, receiver: RTCRtpReceiver, payload_type: int = -1) -> None:
        self.receiver = receiver
        self.source: TrackSource | None = None
        self.payload_type = payload_type
        self._rtx_types: set[int] = set()  # RTX payload types (RFC 4588) whose apt is ours
        self._rtx_ssrc: dict[int, int] = {}  # RTX SSRC → original SSRC
        self._ssrc: int | None = None
        # simulcast: rid → layer, and what the packets taught
        self.rids: dict[str, int] | None = None
        self._layer_of: dict[int, int] = {}  # SSRC → layer
        self._rtx_layer: dict[int, int] = {}  # RTX SSRC → layer
        self._layer_ssrc: list[int | None] = []
        self._map_rtx: Callable[[int, int], None] | None = None
        hooks.tap_receiver(receiver, self._on_packet, self._on_start)

    def simulcast(self, rids: tuple[str, ...]) -> None:
        """The publisher sends one RTP stream per rid (lowest quality first)."""
        if self.rids is not None:
            return  # (a renegotiation cannot change them: the offer is refused before)
        self.rids = {rid: i for i, rid in enumerate(rids)}
        self._layer_ssrc = [None] * len(rids)
        self._map_rtx = hooks.separate_streams(self.receiver)

    def feed(self, source: TrackSource | None) -> None:
        if self.source is not None:
            self.source.detach(self)
        self.source = source
        if source is not None:
            source.attach(self)

    @property
    def ssrcs(self) -> list[int]:
        """The publisher's SSRCs for this track (one per layer) that packets have shown so far."""
        if self._layer_ssrc:
            return [s for s in self._layer_ssrc if s is not None]
        return [] if self._ssrc is None else [self._ssrc]

    def request_keyframe(self, layer: int | None = None) -> object:
        if self.rids is None:
            if self._ssrc is None:
                return None
            return hooks.send_pli(self.receiver, self._ssrc)
        ssrcs = self._layer_ssrc if layer is None else self._layer_ssrc[layer:layer + 1]
        known = [s for s in ssrcs if s is not None]
        return self._plis(known) if known else None

    async def _plis(self, ssrcs: list[int]) -> None:
        for ssrc in ssrcs:
            await hooks.send_pli(self.receiver, ssrc)

    def _on_start(self, parameters: RTCRtpReceiveParameters) -> None:
        for encoding in parameters.encodings:
            if encoding.rtx is not None:
                self._rtx_ssrc[encoding.rtx.ssrc] = encoding.ssrc
        for codec in parameters.codecs:
            apt = codec.parameters.get("apt")
            if codec.name.lower() == "rtx" and apt == self.payload_type and codec.payloadType is not None:
                self._rtx_types.add(codec.payloadType)

    def _on_packet(self, packet: RtpPacket) -> None:
        source = self.source
        if source is None:
            return
        if self.rids is not None:
            self._on_layer_packet(source, packet)
            return
        if packet.payload_type != self.payload_type:
            if packet.payload_type not in self._rtx_types or len(packet.payload) < 2:
                return
            original = self._rtx_ssrc.get(packet.ssrc, self._ssrc)
            if original is None:
                return
            packet = unwrap_rtx(packet, payload_type=self.payload_type, ssrc=original)
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                source.new_epoch()  # the publisher restarted its stream
            self._ssrc = packet.ssrc
        level = packet.extensions.audio_level
        source.push(packet.sequence_number, packet.timestamp, packet.marker, packet.payload,
                    -1 if level is None else (0x80 if level[0] else 0) | level[1])

    def _on_layer_packet(self, source: TrackSource, packet: RtpPacket) -> None:
        assert self.rids is not None
        ssrc = packet.ssrc
        if packet.payload_type == self.payload_type:
            layer = self._layer_of.get(ssrc)
            if layer is None:
                rid = packet.extensions.rtp_stream_id
                layer = self.rids.get(rid) if rid is not None else None
                if layer is None:
                    return  # not (yet) known as one of the offered layers
                self._learn(source, layer, ssrc)
        elif packet.payload_type in self._rtx_types:
            layer = self._rtx_layer.get(ssrc)
            if layer is None:
                rid = packet.extensions.repaired_rtp_stream_id
                layer = self.rids.get(rid) if rid is not None else None
                if layer is None or self._layer_ssrc[layer] is None:
                    return
                self._rtx_layer[ssrc] = layer
                if self._map_rtx is not None:
                    self._map_rtx(ssrc, self._layer_ssrc[layer])  # type: ignore[arg-type]  # checked above
            original = self._layer_ssrc[layer]
            if original is None or len(packet.payload) < 2:
                return
            packet = unwrap_rtx(packet, payload_type=self.payload_type, ssrc=original)
        else:
            return
        if source.layers == 1:
            source.push(packet.sequence_number, packet.timestamp, packet.marker, packet.payload, -1)
        else:
            source.push_layer(layer, packet.sequence_number, packet.timestamp, packet.marker, packet.payload)

    def _learn(self, source: TrackSource, layer: int, ssrc: int) -> None:
        previous = self._layer_ssrc[layer]
        if previous is not None:
            self._layer_of.pop(previous, None)
            source.new_epoch()  # the publisher restarted this layer's stream
        self._layer_ssrc[layer] = ssrc
        self._layer_of[ssrc] = layer
