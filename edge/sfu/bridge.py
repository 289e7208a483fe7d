"""A transcoding bridge: one published video track in another codec, for subscribers that cannot
decode the publisher's (an H.264-only client and a VP8 publisher, or the reverse).

The forwarding core never decodes; a bridge is the one place that does, and only while a
subscriber needs it. It is fed by a tap on its source :class:`~edge.sfu.forwarder.TrackSource`
(the top layer of a simulcast track), reassembles frames from the RTP payloads (aiortc's
depayloader and jitter buffer), decodes each frame once and encodes it once in the target codec,
and feeds the packets to its own :class:`TrackSource` (:attr:`Bridge.output`), whose down tracks
are every subscriber that needs that codec: however many they are, the source is decoded once
and encoded once per target codec. Decoding and encoding run on a worker thread, never on the
event loop that forwards everyone's packets; the packets come back to the loop in order.

A bridge is the origin of its output: a keyframe request of one of its subscribers (PLI/FIR,
a new subscriber, a layer switch) makes the encoder's next frame a keyframe. It asks its source
for a keyframe when it starts, when its decoder lost frames, and when the source's origin
changed. :meth:`Bridge.close` (the room closes a bridge when its last subscriber goes) stops the
worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import random
import threading
import time
from typing import Any

from aiortc.codecs import depayload, get_decoder, get_encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from .forwarder import Media, TrackSource

log = logging.getLogger(__name__)

#: Video codecs a bridge decodes and encodes (lower-case names).
BRIDGEABLE = frozenset({"vp8", "h264"})
#: Packets waiting for the worker before the bridge drops its backlog and starts again at a keyframe.
MAX_BACKLOG = 600
#: The encoder's bit rate (bits per second).
TARGET_BITRATE = 1_000_000

_STOP = object()


def target_codec(name: str) -> RTCRtpCodecParameters:
    """The codec a bridge encodes *name* in: VP8, or H.264 constrained baseline, packetization mode 1."""
    match name.lower():
        case "vp8":
            return RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000)
        case "h264":
            return RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, parameters={
                "level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42e01f"})
    raise ValueError(f"a bridge cannot encode {name!r}")


class Bridge:
    """*source* decoded once and encoded in *codec* (a name in :data:`BRIDGEABLE`)."""

    def __init__(self, source: TrackSource, codec: str, keyframe_min_interval: float) -> None:
        if source.kind != "video" or source.codec.name.lower() not in BRIDGEABLE or codec.lower() not in BRIDGEABLE:
            raise ValueError(f"cannot bridge a {source.kind} {source.codec.name} track to {codec}")
        self.source = source
        self.codec = target_codec(codec)
        info = dataclasses.replace(source.info, codec=self.codec.name)
        self.output = TrackSource(info, self.codec, keyframe_min_interval)
        self.output.via = source.via
        self.layer = source.layers - 1
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        #: CPU seconds the worker thread spent decoding and encoding.
        self.cpu_seconds = 0.0
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._overflow = False
        self._epoch = -1
        self._force_keyframe = True
        self._seq = random.randint(0, 0xFFFF)
        self.closed = False
        self._thread = threading.Thread(target=self._work, name=f"bridge-{source.track_id}-{codec}", daemon=True)
        self._thread.start()
        self.output.attach(self)
        source.taps.append(self._on_media)
        self.ask_source()

    # --- on the event loop ---

    def request_keyframe(self) -> None:
        """The output's origin: the next encoded frame is a keyframe."""
        self._force_keyframe = True

    def ask_source(self) -> None:
        """Ask the source for a keyframe (of the layer bridged)."""
        self.source.request_keyframe(self.layer if self.source.layers > 1 else None)

    def _on_media(self, m: Media) -> None:
        if m.layer != self.layer or m.late:
            return
        if m.epoch != self._epoch:  # a new origin upstream: new sequence space, start at a keyframe
            self._epoch = m.epoch
            self._queue.put(None)   # the worker resets its jitter buffer
        if self._queue.qsize() >= MAX_BACKLOG:  # the worker cannot keep up: drop, start again at a keyframe
            self.dropped += 1
            if not self._overflow:
                self._overflow = True
                self._queue.put(None)
                self.ask_source()
            return
        self._queue.put((m.seq, m.ts, m.marker, m.payload))

    def _emit(self, payloads: list[bytes], timestamp: int) -> None:
        if self.closed:
            return
        self.frames_out += 1
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            self._seq = (self._seq + 1) & 0xFFFF
            self.output.push(self._seq, timestamp, int(i == last), payload, -1)

    def _restarted(self) -> None:
        self._overflow = False

    # --- on the worker thread ---

    def _work(self) -> None:
        source_codec = self.source.codec
        decoder = get_decoder(source_codec)
        encoder = get_encoder(self.codec)
        if hasattr(encoder, "target_bitrate"):
            encoder.target_bitrate = TARGET_BITRATE
        jitter = JitterBuffer(capacity=128, is_video=True)
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if item is None:
                jitter = JitterBuffer(capacity=128, is_video=True)
                self._loop.call_soon_threadsafe(self._restarted)
                continue
            seq, ts, marker, payload = item
            started = time.thread_time()
            try:
                packet = RtpPacket(payload_type=0, marker=marker, sequence_number=seq, timestamp=ts,
                                   payload=payload)
                packet._data = depayload(source_codec, payload)  # type: ignore[attr-defined]
                lost, frame = jitter.add(packet)
                if lost:
                    self._loop.call_soon_threadsafe(self.ask_source)
                if frame is not None:
                    self.frames_in += 1
                    for picture in decoder.decode(frame):
                        force, self._force_keyframe = self._force_keyframe, False
                        payloads, timestamp = encoder.encode(picture, force_keyframe=force)
                        if payloads:
                            self._loop.call_soon_threadsafe(self._emit, payloads, timestamp)
            except Exception:  # noqa: BLE001 — a broken frame must not stop the bridge
                log.exception("bridge %s: a frame could not be transcoded", self.source.track_id)
                self._loop.call_soon_threadsafe(self.ask_source)
            finally:
                self.cpu_seconds += time.thread_time() - started

    def close(self) -> None:
        """Stop: the source no longer feeds the bridge, the worker ends, the output closes."""
        if self.closed:
            return
        self.closed = True
        if self._on_media in self.source.taps:
            self.source.taps.remove(self._on_media)
        self._queue.put(_STOP)
        self.output.close()
