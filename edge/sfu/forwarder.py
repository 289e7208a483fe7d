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

A simulcast track (see :mod:`edge.sfu.layers`) has several *layers*, each its own RTP stream with
its own sequence and timestamp space: :meth:`TrackSource.push_layer` gives each packet to the
down tracks forwarding that layer, and to those switching to it when the packet starts a
keyframe. To a down track each layer is an epoch of its own, so a switch re-anchors its
rewriting like a change of origin does.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .feed import ReceiverFeed
from .interfaces import TrackInfo
from .keyframes import KeyframeRequester, keyframe_detector
from .layers import MAX_LAYERS, LayerMeter, vp8_size

if TYPE_CHECKING:
    from .downtrack import DownTrack

__all__ = ["MAX_LATE", "Media", "Origin", "ReceiverFeed", "TrackSource"]

log = logging.getLogger(__name__)

#: A packet more than this many sequence numbers behind the newest is dropped as stale.
MAX_LATE = 512


class Media:
    """One incoming RTP packet as the forwarder needs it (built once, shared by all subscribers)."""

    __slots__ = ("seq", "ts", "marker", "payload", "key", "level", "epoch", "time", "late", "layer")

    def __init__(self, seq: int, ts: int, marker: int, payload: bytes, key: bool, level: int,
                 epoch: int, now: float, late: bool, layer: int = 0) -> None:
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
        #: The simulcast layer it belongs to (0 for a single-layer track).
        self.layer = layer


class Origin(Protocol):
    def request_keyframe(self) -> object:
        """Ask for a keyframe (of every layer); may return an awaitable."""


class LayeredOrigin(Origin, Protocol):
    def request_keyframe(self, layer: int | None = None) -> object:
        """Ask for a keyframe of *layer* (None: of every layer); may return an awaitable."""


class TrackSource:
    """The fan-out point of one published track."""

    def __init__(self, info: TrackInfo, codec: RTCRtpCodecParameters, keyframe_min_interval: float,
                 on_level: Callable[[str, int], None] | None = None, layers: int = 1) -> None:
        if not 1 <= layers <= MAX_LAYERS or (layers > 1 and info.kind != "video"):
            raise ValueError(f"a {info.kind} track has 1 to {MAX_LAYERS if info.kind == 'video' else 1} layers")
        self.info = info
        self.kind = info.kind
        #: When it was published (monotonic): the first-frame figure counts from here at the earliest.
        self.created = time.monotonic()
        self.codec = codec
        self.clock_rate = codec.clockRate
        self.downtracks: list[DownTrack] = []
        #: The down tracks packets go to (not paused), in the order they were added.
        self.fanout: list[DownTrack] = []
        #: Simulcast layers (1: a single-layer track); layer 0 is the lowest quality.
        self.layers = layers
        self.origin: Origin | None = None
        #: The edge this track is relayed from (cascading); empty for a track published here.
        self.via = ""
        self.epoch = 0
        self.muted = info.muted
        #: Keyframe requests for the whole track (every layer of a simulcast one).
        self.keyframes = KeyframeRequester(self._ask_origin, keyframe_min_interval)
        #: A simulcast track's requests for one layer each (empty for a single-layer track).
        self.layer_keyframes = [KeyframeRequester(functools.partial(self._ask_origin, i), keyframe_min_interval)
                                for i in range(layers)] if layers > 1 else []
        self._epoch_base = 0
        self._max_seqs = [-1] * layers
        self._layer_bytes = [0] * layers
        self._sizes: list[tuple[int, int] | None] = [None] * layers
        self._meter = LayerMeter(layers)
        self._vp8 = codec.name.lower() == "vp8"
        self._is_key = keyframe_detector(codec.name)
        self._video = info.kind == "video"
        self._on_level = on_level
        #: Also handed every packet (before the down tracks): a transcoding bridge's input.
        self.taps: list[Callable[[Media], None]] = []
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
        """The next packet starts an unrelated sequence/timestamp space (of every layer)."""
        self.epoch += 1
        self._epoch_base = self.epoch * MAX_LAYERS  # each layer's packets are an epoch of their own
        self._max_seq = -1
        self._max_seqs = [-1] * self.layers
        if self._video and self.downtracks:
            self.request_wanted()

    def _ask_origin(self, layer: int | None = None) -> object:
        if self.origin is None:
            return None
        if layer is None:
            return self.origin.request_keyframe()
        return self.origin.request_keyframe(layer)  # type: ignore[call-arg]  # a layered origin

    # --- layers ---

    def request_keyframe(self, layer: int | None = None) -> None:
        """Ask for a keyframe of *layer* (None, or a single-layer track: the whole track)."""
        if layer is None or not self.layer_keyframes:
            self.keyframes.request()
        else:
            self.layer_keyframes[layer].request()

    def request_wanted(self) -> None:
        """Ask for a keyframe of every layer some down track forwards or waits for."""
        if not self.layer_keyframes:
            self.keyframes.request()
            return
        for layer in sorted({dt.target for dt in self.fanout if dt.target is not None}):
            self.layer_keyframes[layer].request()

    def layer_bitrate(self, layer: int) -> int:
        """Bits per second (payload) of *layer* over about the last second."""
        if not 0 <= layer < self.layers:
            raise ValueError(f"track {self.track_id} has no layer {layer}")
        total = self.bytes_in if self.layers == 1 else self._layer_bytes[layer]
        return self._meter.bitrate(layer, total)

    def layer_size(self, layer: int) -> tuple[int, int] | None:
        """(width, height) of *layer*'s pictures as its last keyframe said, or None when unknown."""
        if not 0 <= layer < self.layers:
            raise ValueError(f"track {self.track_id} has no layer {layer}")
        return self._sizes[layer]

    def keyframes_sent(self) -> int:
        return self.keyframes.sent + sum(k.sent for k in self.layer_keyframes)

    def keyframes_requested(self) -> int:
        return self.keyframes.requested + sum(k.requested for k in self.layer_keyframes)

    def _sample(self, now: float) -> None:
        self._meter.sample(now, (self.bytes_in,) if self.layers == 1 else tuple(self._layer_bytes))

    # --- subscribers ---

    def add(self, downtrack: DownTrack) -> None:
        if downtrack not in self.downtracks:
            self.downtracks.append(downtrack)
            self.refresh(downtrack)
            if self._video and downtrack.egress.connected and downtrack.target is not None:
                self.request_keyframe(downtrack.target)  # else: requested when its connection opens

    def remove(self, downtrack: DownTrack) -> None:
        if downtrack in self.downtracks:
            self.downtracks.remove(downtrack)
        if downtrack in self.fanout:
            self.fanout.remove(downtrack)

    def refresh(self, downtrack: DownTrack) -> None:
        """*downtrack* was paused or resumed: packets go to it or no longer do."""
        forwarded = downtrack.target is not None and downtrack in self.downtracks
        if forwarded and downtrack not in self.fanout:
            self.fanout.append(downtrack)
        elif not forwarded and downtrack in self.fanout:
            self.fanout.remove(downtrack)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        if not muted and self._video:
            for dt in self.downtracks:
                dt.wait_for_keyframe()
            if self.downtracks:
                self.request_wanted()

    def close(self) -> None:
        self.taps.clear()
        self.keyframes.close()
        for requester in self.layer_keyframes:
            requester.close()
        self.downtracks.clear()
        self.fanout.clear()
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
        now = time.monotonic()
        if now >= self._meter.next_sample:
            self._sample(now)
        if self._video:
            key = self._is_key(payload)
            if key and self._vp8:
                self._sizes[0] = vp8_size(payload) or self._sizes[0]
        else:
            key = True
        m = Media(seq, ts, marker, payload, key, level, self._epoch_base, now, late)
        for tap in self.taps:
            tap(m)
        for dt in self.fanout:
            dt.egress.push(dt, m)

    def push_layer(self, layer: int, seq: int, ts: int, marker: int, payload: bytes) -> None:
        """Forward one packet of a simulcast track's *layer* (of the current epoch) to the down
        tracks that forward that layer, or switch to it at this packet (a keyframe's start)."""
        if self.muted or not payload:
            return
        n = len(payload)
        self.packets_in += 1
        self.bytes_in += n
        self._layer_bytes[layer] += n
        late = False
        top = self._max_seqs[layer]
        if top < 0:
            self._max_seqs[layer] = seq
        else:
            ahead = (seq - top) & 0xFFFF
            if ahead < 0x8000:
                self._max_seqs[layer] = seq
            elif 0x10000 - ahead > MAX_LATE:
                return
            else:
                late = True
        now = time.monotonic()
        if now >= self._meter.next_sample:
            self._sample(now)
        key = self._is_key(payload)
        if key and self._vp8:
            self._sizes[layer] = vp8_size(payload) or self._sizes[layer]
        m = Media(seq, ts, marker, payload, key, -1, self._epoch_base + layer, now, late, layer)
        for tap in self.taps:
            tap(m)
        for dt in self.fanout:
            if dt.layer == layer:
                dt.egress.push(dt, m)
            elif dt.target == layer:
                if key and not late:
                    dt.layer = layer  # the switch: the down track re-anchors on this keyframe
                    dt.switches += 1
                    dt.egress.push(dt, m)
                elif marker:
                    self.layer_keyframes[layer].request()  # still waiting (rate-limited there)
