"""A published track on this edge: where its RTP packets arrive, and the fan-out to subscribers.

A :class:`TrackSource` is not tied to a peer connection. An *origin* feeds it packets and answers
keyframe requests: today a publisher's RTP receiver (:class:`ReceiverFeed`); an origin can be
swapped while subscribers keep receiving (the publisher reconnects and publishes again, or, for
cascading, a relay from another edge takes over). Each swap starts a new *epoch*: the sequence
number and timestamp spaces of the new origin are unrelated to the old one, and every
:class:`~edge.sfu.downtrack.DownTrack` re-anchors its rewriting so what the subscriber sees stays
continuous (RFC 3550 §5.1: the SSRC, sequence numbers and timestamps are the edge's own).

Packets are never depacketized: the payload bytes go out as they came in, behind a rewritten RTP
header.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket, unwrap_rtx

from . import aiortc_hooks as hooks
from .interfaces import TrackInfo
from .keyframes import KeyframeRequester, keyframe_detector

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver

    from .downtrack import DownTrack

log = logging.getLogger(__name__)

#: A packet more than this many sequence numbers behind the newest is dropped as stale.
MAX_LATE = 512


class Media:
    """One incoming RTP packet as the forwarder needs it (built once, shared by all subscribers)."""

    __slots__ = ("seq", "ts", "marker", "payload", "key", "level", "epoch", "time", "late")

    def __init__(self, seq: int, ts: int, marker: int, payload: bytes, key: bool, level: int,
                 epoch: int, now: float, late: bool) -> None:
        self.seq = seq
        self.ts = ts
        self.marker = marker
        self.payload = payload
        #: The packet starts a keyframe (always true for audio).
        self.key = key
        #: The RFC 6464 audio level byte (V flag and level), or -1 when absent.
        self.level = level
        self.epoch = epoch
        self.time = now
        #: Older than a packet already forwarded (reordered or retransmitted upstream).
        self.late = late


class Origin(Protocol):
    def request_keyframe(self) -> object:
        """Ask for a keyframe; may return an awaitable."""


class TrackSource:
    """The fan-out point of one published track."""

    def __init__(self, info: TrackInfo, codec: RTCRtpCodecParameters, keyframe_min_interval: float,
                 on_level: Callable[[str, int], None] | None = None) -> None:
        self.info = info
        self.kind = info.kind
        self.codec = codec
        self.clock_rate = codec.clockRate
        self.downtracks: list[DownTrack] = []
        self.origin: Origin | None = None
        #: The edge this track is relayed from (cascading); empty for a track published here.
        self.via = ""
        self.epoch = 0
        self.muted = info.muted
        self.keyframes = KeyframeRequester(self._ask_origin, keyframe_min_interval)
        self._is_key = keyframe_detector(codec.name)
        self._video = info.kind == "video"
        self._on_level = on_level
        self._max_seq = -1
        self.packets_in = 0
        self.bytes_in = 0

    @property
    def track_id(self) -> str:
        return self.info.track_id

    # --- origins ---

    def attach(self, origin: Origin) -> None:
        """*origin* feeds this track from now on (a new epoch)."""
        self.origin = origin
        self.new_epoch()

    def detach(self, origin: Origin) -> None:
        if self.origin is origin:
            self.origin = None

    def new_epoch(self) -> None:
        """The next packet starts an unrelated sequence/timestamp space."""
        self.epoch += 1
        self._max_seq = -1
        if self._video and self.downtracks:
            self.keyframes.request()

    def _ask_origin(self) -> object:
        return self.origin.request_keyframe() if self.origin is not None else None

    # --- subscribers ---

    def add(self, downtrack: DownTrack) -> None:
        if downtrack not in self.downtracks:
            self.downtracks.append(downtrack)
            if self._video and downtrack.egress.connected:
                self.keyframes.request()  # else: requested when its connection opens

    def remove(self, downtrack: DownTrack) -> None:
        if downtrack in self.downtracks:
            self.downtracks.remove(downtrack)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if not muted and self._video:
            for dt in self.downtracks:
                dt.wait_for_keyframe()
            if self.downtracks:
                self.keyframes.request()

    def close(self) -> None:
        self.keyframes.close()
        self.downtracks.clear()
        self.origin = None

    # --- the hot path ---

    def push(self, seq: int, ts: int, marker: int, payload: bytes, level: int) -> None:
        """Forward one packet of the current epoch to every subscriber."""
        if self.muted or not payload:
            return
        self.packets_in += 1
        self.bytes_in += len(payload)
        late = False
        if self._max_seq < 0:
            self._max_seq = seq
        else:
            ahead = (seq - self._max_seq) & 0xFFFF
            if ahead < 0x8000:
                self._max_seq = seq
            elif 0x10000 - ahead > MAX_LATE:
                return
            else:
                late = True
        if level >= 0 and self._on_level is not None:
            self._on_level(self.info.participant_id, level & 0x7F)
        m = Media(seq, ts, marker, payload, self._is_key(payload) if self._video else True, level,
                  self.epoch, time.monotonic(), late)
        for dt in self.downtracks:
            dt.egress.push(dt, m)


class ReceiverFeed:
    """A publisher's RTP receiver (publish PC) as the origin of a :class:`TrackSource`."""

    def __init__(self, receiver: RTCRtpReceiver, payload_type: int = -1) -> None:
        self.receiver = receiver
        self.source: TrackSource | None = None
        self.payload_type = payload_type
        self._rtx_types: set[int] = set()  # RTX payload types (RFC 4588) whose apt is ours
        self._rtx_ssrc: dict[int, int] = {}  # RTX SSRC → original SSRC
        self._ssrc: int | None = None
        hooks.tap_receiver(receiver, self._on_packet, self._on_start)

    def feed(self, source: TrackSource | None) -> None:
        if self.source is not None:
            self.source.detach(self)
        self.source = source
        if source is not None:
            source.attach(self)

    @property
    def ssrc(self) -> int | None:
        """The publisher's SSRC for this track, once a packet came."""
        return self._ssrc

    def request_keyframe(self) -> object:
        if self._ssrc is None:
            return None
        return hooks.send_pli(self.receiver, self._ssrc)

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
