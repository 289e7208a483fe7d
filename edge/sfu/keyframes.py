"""Keyframes: recognising where one starts in an RTP payload, and asking a publisher for one.

A subscriber can only start decoding video at a keyframe, so a new (or resynchronised)
subscriber's video is held until one starts. Keyframes are recognised from the first bytes of
the RTP payload, without depacketizing:

* VP8 (RFC 7741 §4.2–4.3): the payload descriptor's S bit and partition index 0 mark the start
  of a frame; the payload header that follows has the inverse key frame flag P = 0.
* H.264 (RFC 6184 §5.6–5.8): a single NAL unit, STAP-A aggregate or FU-A start carrying a
  sequence parameter set (type 7) or an IDR slice (type 5). SPS/PPS precede the IDR slice in a
  keyframe, so the first packet recognised is the start of the access unit.
* Audio: every Opus/G.711/G.722 packet decodes on its own.

Keyframe requests from subscribers (PLI, FIR) and from the edge itself (a subscriber joined,
dropped packets, the source changed) are coalesced per published track: at most one PLI per
``min_interval`` goes to the publisher; requests inside the interval are folded into one sent
when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def vp8_keyframe_start(payload: bytes) -> bool:
    """True when *payload* (a VP8 RTP payload) begins a key frame (RFC 7741)."""
    n = len(payload)
    if n < 2:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:  # S = 0, or a partition other than the first
        return False
    pos = 1
    if b0 & 0x80:  # X: extended control bits follow
        x = payload[1]
        pos = 2
        if x & 0x80:  # I: PictureID, 7 or 15 bits (M flag)
            if pos >= n:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    return pos < n and not payload[pos] & 0x01  # P = 0: key frame


def h264_keyframe_start(payload: bytes) -> bool:
    """True when *payload* (an H.264 RTP payload, RFC 6184) carries an SPS or starts an IDR slice."""
    n = len(payload)
    if n < 1:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A: [size:16][NAL unit]…
        pos = 1
        while pos + 2 < n:
            size = (payload[pos] << 8) | payload[pos + 1]
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal_type == 28 and n > 1:  # FU-A: the start fragment of an IDR slice
        fu = payload[1]
        return bool(fu & 0x80) and fu & 0x1F == 5
    return False


def always(payload: bytes) -> bool:
    return True


def keyframe_detector(codec_name: str) -> Callable[[bytes], bool]:
    """The keyframe-start test for a codec name as aiortc spells it ("VP8", "H264", "opus")."""
    name = codec_name.lower()
    if name == "vp8":
        return vp8_keyframe_start
    if name == "h264":
        return h264_keyframe_start
    return always


class KeyframeRequester:
    """Coalesced keyframe requests towards one published track's origin.

    *send* transmits the request (a PLI to the publisher, or later a request over a relay); it
    may return an awaitable, which is run as a task and cancelled by :meth:`close`.
    """

    def __init__(self, send: Callable[[], object], min_interval: float) -> None:
        self._send = send
        self.min_interval = min_interval
        self._last = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Requests received (from subscribers and the edge).
        self.requested = 0
        #: Requests actually sent to the origin.
        self.sent = 0

    def request(self) -> None:
        self.requested += 1
        if self._timer is not None:
            return  # one is already scheduled: this request is folded into it
        wait = self._last + self.min_interval - time.monotonic()
        if wait <= 0:
            self._fire()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self.sent += 1
        try:
            result = self._send()
        except Exception:  # noqa: BLE001 — a failed request must not break forwarding
            log.exception("keyframe request failed")
            return
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
