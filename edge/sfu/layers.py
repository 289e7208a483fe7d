"""What the edge knows about the layers of a simulcast track: how many bits each carries, and
how large its pictures are.

A track published with simulcast (RFC 8853) arrives as up to three RTP streams of the same
picture at different qualities, one per ``rid`` (RFC 8851); the edge numbers them 0 (lowest
quality) upwards. A single-layer track has one layer, 0. Bitrates are measured as packets
arrive (:class:`LayerMeter`, a rolling window of about a second, sampled on the packet path
without timers) and picture sizes read from keyframe headers (:func:`vp8_size`).
"""

from __future__ import annotations

import time
from collections import deque

#: At most this many layers per track.
MAX_LAYERS = 3
#: Seconds between samples of the byte counters, and the window a bitrate is measured over.
SAMPLE_EVERY = 0.25
WINDOW = 1.0


class LayerMeter:
    """Rolling per-layer bitrates from running byte totals sampled every :data:`SAMPLE_EVERY`."""

    def __init__(self, layers: int) -> None:
        self.layers = layers
        self._samples: deque[tuple[float, tuple[int, ...]]] = deque(maxlen=int(2 * WINDOW / SAMPLE_EVERY))
        self.next_sample = 0.0

    def sample(self, now: float, totals: tuple[int, ...]) -> None:
        self._samples.append((now, totals))
        self.next_sample = now + SAMPLE_EVERY

    def bitrate(self, layer: int, total: int, now: float | None = None) -> int:
        """Bits per second of *layer* over about the last second, given its byte *total* now."""
        if now is None:
            now = time.monotonic()
        base: tuple[float, tuple[int, ...]] | None = None
        for sample in self._samples:  # oldest first: the newest one at least a window old
            if sample[0] <= now - WINDOW or base is None:
                base = sample
            else:
                break
        if base is None:
            return 0
        elapsed = now - base[0]
        if elapsed < SAMPLE_EVERY / 2:
            return 0
        return max(int((total - base[1][layer]) * 8 / elapsed), 0)


def vp8_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from the first packet of a VP8 key frame (RFC 7741 §4.2 descriptor, then
    the RFC 6386 §9.1 frame tag, start code and dimensions), or None when it is not one."""
    n = len(payload)
    if n < 2:
        return None
    b0 = payload[0]
    pos = 1
    if b0 & 0x80:
        x = payload[1]
        pos = 2
        if x & 0x80:
            if pos >= n:
                return None
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    if n < pos + 10 or payload[pos] & 0x01 or payload[pos + 3:pos + 6] != b"\x9d\x01\x2a":
        return None
    width = (payload[pos + 6] | payload[pos + 7] << 8) & 0x3FFF
    height = (payload[pos + 8] | payload[pos + 9] << 8) & 0x3FFF
    return (width, height) if width and height else None


#: Well-known rid names, lowest quality first, used to order a publisher's layers.
KNOWN_ORDER = ("q", "h", "f")


def order_rids(rids: list[str]) -> list[str]:
    """The layers' rids lowest quality first: ``q``/``h``/``f`` (quarter, half, full) by
    name; any other names in the order the offer's ``a=simulcast`` lists them."""
    if all(r in KNOWN_ORDER for r in rids):
        return sorted(rids, key=KNOWN_ORDER.index)
    return list(rids)
