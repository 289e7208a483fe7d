"""One published track as one subscriber receives it: the RTP header rewriting.

The edge is an RTP translator that owns the subscriber-facing streams (RFC 3550 §7.2 / RFC 7667
§3.7 "selective forwarding middlebox"): each down track sends under the SSRC its RTP sender
announced in the subscriber's SDP, with its own sequence numbers and timestamps:

    out_seq = (in_seq + seq_offset) mod 2^16,   out_ts = (in_ts + ts_offset) mod 2^32

The offsets are chosen when the down track *anchors* on a packet:

* first packet: random starting points (RFC 3550 §5.1);
* a new epoch of its source (another origin took over): the sequence continues at
  ``last + 1`` and the timestamp advances by the wall-clock time since the last packet, so
  the subscriber's decoder and jitter buffer see one continuous stream;
* after dropping video (a slow subscriber, see :mod:`edge.sfu.egress`): the sequence
  continues at ``last + 1`` (no gap to NACK) and the timestamp keeps its offset.

Video anchors only on a packet that starts a keyframe; until then its packets are held back
(dropped) and a keyframe is requested from the source (rate-limited there).

A video down track has a *target* layer (:meth:`DownTrack.set_target`; the top layer unless
told otherwise) and the *layer* it forwards now. A simulcast source switches it to the target
at a keyframe of the target layer (requested when the target changes; until then the current
layer keeps flowing) and each layer is an epoch of its own, so the rewriting re-anchors there
and stays continuous. A target of ``None`` pauses the video: nothing is forwarded, and on
resuming it starts again at a keyframe, requested. Audio ignores targets.

The payload type is the one the subscriber negotiated; the one-byte header extensions
(RFC 8285) carry the subscriber's own ``mid`` (RFC 8843) and, for audio, the publisher's
audio level (RFC 6464) under the subscriber's extension ids. Sent video packets are kept in a
small history so generic NACKs (RFC 4585 §6.2.1) from the subscriber are answered locally.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from aiortc.clock import current_ntp_time
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

if TYPE_CHECKING:
    from .egress import Egress
    from .forwarder import Media, TrackSource

_HEADER = struct.Struct("!BBHII")
HISTORY = 512  # sent video packets remembered for NACK (a power of two)


def one_byte_extensions(elements: list[tuple[int, bytes]]) -> bytes:
    """An RTP header extension block in the one-byte form (RFC 8285 §4.2), padded to 32 bits."""
    body = b"".join(bytes([(ident << 4) | (len(value) - 1)]) + value for ident, value in elements)
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body if body else b""


class DownTrack:
    """The (track, subscriber) pair: rewrites and sends one source's packets."""

    def __init__(self, source: TrackSource, egress: Egress) -> None:
        self.source = source
        self.egress = egress
        self.kind = source.kind
        self.video = source.kind == "video"
        self.clock_rate = source.clock_rate
        #: The source is simulcast: it chooses the layer at each switch (see :meth:`set_target`).
        self.layered = source.layers > 1
        #: The layer forwarded now (-1: none yet, or paused).
        self.layer = -1
        #: The layer this subscriber should receive (None: paused); the top one by default.
        self.target: int | None = source.layers - 1
        self.ssrc = 0
        self.mid = ""
        self.ready = False
        self._mpt = (0, 0x80)
        self._b0 = 0x80
        self._ext = b""
        self._ext_levels: list[bytes] | None = None
        self._report: Callable[[int, int, int, int], None] | None = None
        #: Adds the congestion-feedback header extension (see :mod:`edge.sfu.stamping`), or None.
        self.stamp: Callable[[bytes, int], bytes] | None = None
        # rewriting state
        self.epoch = -1
        self.waiting_key = self.video
        self.seq_offset = 0
        self.ts_offset = 0
        self.anchor: int | None = None
        self.anchor_time = 0.0
        self.started = False
        self.last_seq = random.getrandbits(15)  # lower half avoids early SRTP rollover trouble
        self.last_ts = random.getrandbits(32)
        self.last_time = 0.0
        self.mid_frame = False  # the last packet sent did not end its frame
        # (out seq, out timestamp, packet) of sent video: the payload is shared with the other
        # subscribers, so remembering costs a tuple per packet, not a copy
        self.history: list[tuple[int, int, Media] | None] | None = [None] * HISTORY if self.video else None
        # counters
        self.packets = 0
        self.octets = 0
        self.held = 0
        self.retransmitted = 0
        #: Times this subscriber's video moved to another simulcast layer.
        self.switches = 0
        #: (packets, octets, switches) already in its egress's totals (see Egress.retire).
        self.counted = (0, 0, 0)

    def configure(self, *, ssrc: int, payload_type: int, mid: str, mid_ext: int | None,
                  level_ext: int | None, report: Callable[[int, int, int, int], None] | None = None) -> None:
        """Apply what the subscriber's answer negotiated; forwarding starts when :attr:`ready`."""
        self.ssrc = ssrc
        self.mid = mid
        self._mpt = (payload_type, payload_type | 0x80)
        base = [(mid_ext, mid.encode())] if mid_ext else []
        self._ext = one_byte_extensions(base)
        self._ext_levels = ([one_byte_extensions(base + [(level_ext, bytes([v]))]) for v in range(256)]
                            if level_ext and not self.video else None)
        self._b0 = 0x90 if (self._ext or self._ext_levels) else 0x80
        self._report = report
        self.ready = True

    def use_stamp(self, stamp: Callable[[bytes, int], bytes] | None) -> None:
        """Add a congestion-feedback header extension to every packet (after :meth:`configure`)."""
        self.stamp = stamp
        if stamp is not None:
            self._b0 = 0x90

    def continue_after(self, previous: DownTrack) -> None:
        """Send on an SSRC *previous* sent on before (a reused transceiver): its sequence
        numbers and timestamps go on from where *previous* stopped."""
        if previous.started:
            self.started = True
            self.last_seq, self.last_ts, self.last_time = previous.last_seq, previous.last_ts, previous.last_time
            self.epoch = -1

    def wait_for_keyframe(self) -> None:
        """Hold video until the next keyframe (when its connection opens, or it is unmuted)."""
        if self.video:
            self.waiting_key = True

    def request_keyframe(self) -> None:
        """Ask the source for a keyframe of the layer this down track needs next."""
        if not self.video or self.target is None:
            return
        self.source.request_keyframe((self.layer if self.layer >= 0 else self.target) if self.layered else None)

    def lost(self) -> None:
        """A packet of this stream was dropped: video resumes at a keyframe, asked for now."""
        if self.video:
            if not self.waiting_key:
                self.request_keyframe()
            self.waiting_key = True

    # --- layers ---

    def set_target(self, layer: int | None) -> None:
        """Receive *layer* of the source from now on (None: pause the video).

        The current layer keeps flowing until a keyframe of the target starts (one is requested
        now); resuming from a pause starts at a keyframe too. Audio ignores targets.
        """
        if not self.video:
            return
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)
                                  or not 0 <= layer < self.source.layers):
            raise ValueError(f"track {self.source.track_id} has layers 0 to {self.source.layers - 1}, not {layer!r}")
        if layer == self.target:
            return
        self.target = layer
        if layer is None:
            self.layer = -1
            self.waiting_key = True  # what is still queued is dropped; resuming starts at a keyframe
        elif not self.layered:
            if self.layer < 0:
                self.waiting_key = True
        if layer is not None and layer != self.layer and self.egress.connected:
            self.source.request_keyframe(layer if self.layered else None)
        self.source.refresh(self)

    # --- the hot path ---

    def emit(self, m: Media) -> bytes | None:
        """The packet as this subscriber receives it, or None when it is held back."""
        if m.epoch != self.epoch or self.waiting_key:
            if not self._anchor(m):
                return None
        elif m.late and self.anchor is not None and (m.seq - self.anchor) & 0xFFFF >= 0x8000:
            return None  # from before the keyframe this down track started at
        seq = (m.seq + self.seq_offset) & 0xFFFF
        ts = (m.ts + self.ts_offset) & 0xFFFFFFFF
        levels = self._ext_levels
        ext = self._ext if levels is None or m.level < 0 else levels[m.level]
        if self.stamp is not None:
            ext = self.stamp(ext, len(m.payload))
        data = _HEADER.pack(self._b0, self._mpt[m.marker], seq, ts, self.ssrc) + ext + m.payload
        if not m.late:
            self.last_seq = seq
            self.last_ts = ts
            self.last_time = m.time
            self.mid_frame = not m.marker
        self.packets += 1
        self.octets += len(m.payload)
        if self.history is not None:
            self.history[seq & (HISTORY - 1)] = (seq, ts, m)
        return data

    def padding(self, size: int, now: float) -> bytes | None:
        """A padding-only packet (RFC 3550 §5.1: the P bit, *size* bytes of padding, at most 255)
        in this stream, for probing the subscriber's downlink (:mod:`edge.sfu.probe`); None before
        the stream has sent anything. It takes the next sequence number, so the media after it
        follows it, and a late packet from before it is no longer forwarded (its number would
        be taken)."""
        if not self.ready or not self.started or not self.video or (self.mid_frame and self.target is not None):
            return None  # and never inside a frame: a receiver assembles a frame from consecutive numbers
        size = min(max(size, 1), 255)
        seq = (self.last_seq + 1) & 0xFFFF
        self.seq_offset = (self.seq_offset + 1) & 0xFFFF
        self.anchor = (seq - self.seq_offset) & 0xFFFF  # the last input forwarded: older ones are late
        self.anchor_time = now
        self.last_seq = seq
        ext = self._ext if self.stamp is None else self.stamp(self._ext, size)
        return (_HEADER.pack(self._b0 | 0x20, self._mpt[0], seq, self.last_ts, self.ssrc) + ext
                + bytes(size - 1) + bytes([size]))

    def _anchor(self, m: Media) -> bool:
        if self.video:
            if self.target is None or (self.layered and m.layer != self.layer):
                return False  # paused, or a packet of the layer switched away from
            if not m.key:
                self.held += 1
                self.request_keyframe()
                return False
        if m.late:
            return False
        if self.video and not self.egress.first_video_sent:
            self.egress.first_video(self.source.created, m.time)
        same_epoch = m.epoch == self.epoch
        self.seq_offset = (self.last_seq + 1 - m.seq) & 0xFFFF
        if not self.started:
            self.ts_offset = (self.last_ts - m.ts) & 0xFFFFFFFF
        elif not same_epoch:
            step = max(int((m.time - self.last_time) * self.clock_rate), 1)
            self.ts_offset = (self.last_ts + step - m.ts) & 0xFFFFFFFF
        self.started = True
        self.epoch = m.epoch
        self.layer = m.layer
        self.waiting_key = False
        self.anchor = m.seq
        self.anchor_time = m.time
        return True

    # --- feedback from the subscriber ---

    def on_keyframe_request(self) -> None:
        self.request_keyframe()

    def on_nack(self, lost: list[int]) -> None:
        if self.history is None:
            return
        for seq in lost:
            sent = self.history[seq & (HISTORY - 1)]
            if sent is not None and sent[0] == seq:
                _, ts, m = sent
                self.retransmitted += 1
                self.egress.send_now(_HEADER.pack(self._b0, self._mpt[m.marker], seq, ts, self.ssrc) + self._ext
                                     + m.payload)

    # --- housekeeping (a few times a second) ---

    def report(self, now: float) -> None:
        """Refresh what the RTP sender's next Sender Report says (RFC 3550 §6.4.1): the NTP
        time now and the RTP timestamp that corresponds to it, and the counts."""
        if self.anchor is not None and now - self.anchor_time > 2.0:
            self.anchor = None  # far past the anchor: late packets need no check against it
        if self._report is None or not self.started:
            return
        rtp_now = (self.last_ts + int((now - self.last_time) * self.clock_rate)) & 0xFFFFFFFF
        self._report(current_ntp_time(), rtp_now, self.packets & 0xFFFFFFFF, self.octets & 0xFFFFFFFF)


class ForwardedTrack(MediaStreamTrack):
    """The track an edge RTP sender is given: it never yields a frame (packets are sent by the
    :class:`DownTrack`), so the sender never creates an encoder. Ends when stopped."""

    def __init__(self, kind: str, track_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        if track_id is not None:
            self._id = track_id
        self._ended: asyncio.Future[None] | None = None

    async def recv(self) -> NoReturn:
        if self.readyState != "live":
            raise MediaStreamError
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)
