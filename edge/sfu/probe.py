"""Probing a subscriber's downlink with padding before a layer is raised.

Transport-wide feedback measures what a path *delivers*, not what it could: a subscriber that
receives a 150 kb/s layer shows 150 kb/s, and the next layer may need five times that. Raising
the layer blindly floods a thin link with a keyframe of the bigger layer and freezes the video
until the edge steps back. So, as browsers and other SFUs do, the edge first sends **padding**
(RTP packets with only padding, RFC 3550 §5.1, in a video stream the subscriber already
receives: :meth:`~edge.sfu.downtrack.DownTrack.padding`), stamped for transport-wide feedback
like media, at the rate the next layer would add, for :data:`DURATION` seconds. If the feedback
meanwhile shows no congestion, what was delivered is *proven* and the allocator may take the
step (:meth:`~edge.sfu.bandwidth.Downlink.proven_rate`); if it shows congestion the probe stops
at once — the padding, not the picture, met the queue: the estimate is kept at what flowed
before the probe while the queue drains (:meth:`~edge.sfu.bandwidth.Downlink.probe_failed`) —
and the next one waits twice as long (from :data:`FIRST_BACKOFF` up to :data:`MAX_BACKOFF`
seconds).

A probe aims at most at :data:`STEP` × what the path carried lately (sent now, or proven), so
a big step is proven in a few probes and a failed one overshoots a thin link by little. Padding
goes ahead of the queue, only while nothing is queued, and is not counted as forwarded media.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .bandwidth import PROVEN

if TYPE_CHECKING:
    from .bandwidth import Downlink
    from .downtrack import DownTrack
    from .egress import Egress

DURATION = 1.5  # seconds a probe lasts
TICK = 0.01  # seconds between padding bursts
OVERSHOOT = 1.2  # × the target: what feedback measures delivered falls a little short of what was sent
STEP = 2.0  # a probe aims at most at this × what is sent now …
MIN_STEP = 100_000  # … or this much more (bits/s), whichever is more
FIRST_BACKOFF = 4.0
MAX_BACKOFF = 32.0
AFTER_SUCCESS = 0.5  # seconds between a proven probe and the next
PADDING = 255  # bytes of padding per packet (the most one packet can say)


class Prober:
    """One subscriber's probes."""

    def __init__(self, egress: Egress, downlink: Downlink) -> None:
        self.egress = egress
        self.downlink = downlink
        self.started_at: float | None = None  # None: not probing
        self.bps = 0.0  # padding bits/s of the probe under way
        self.media_bps = 0.0  # media bits/s sent when it started
        self.next_at = 0.0
        self.backoff = FIRST_BACKOFF
        self._credit = 0.0
        self._last = 0.0
        self._carrier: DownTrack | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Probes started, failed (congestion), and padding bytes sent.
        self.probes = 0
        self.failed = 0
        self.padding_bytes = 0

    @property
    def probing(self) -> bool:
        return self.started_at is not None

    def carrier(self) -> DownTrack | None:
        """A video stream the subscriber already receives, to carry padding (None: none)."""
        for dt in self.egress.downtracks:
            if dt.video and dt.ready and dt.started:
                return dt
        return None

    def start(self, target_bps: float, sent_bps: float, now: float | None = None, holding: float = 0.0) -> bool:
        """Probe towards *target_bps* (bits/s the subscriber would receive after the next step
        up) while *sent_bps* flows (and the layers it receives cost *holding* bits/s, as the
        allocator counts them); False when not now (a probe under way, backing off, nothing to
        carry it, a queue, or nothing to add)."""
        now = time.monotonic() if now is None else now
        if self.probing or now < self.next_at or not self.egress.connected or self.egress.queue:
            return False
        carrier = self.carrier()
        if carrier is None:
            return False
        base = max(sent_bps, self.downlink.proven_rate(now) / PROVEN)  # what the path carried lately
        goal = min(OVERSHOOT * target_bps, max(STEP * base, sent_bps + MIN_STEP))
        if goal <= sent_bps:
            return False
        self.bps = goal - sent_bps
        self.media_bps = max(sent_bps, holding)
        self.started_at = self._last = now
        self._credit = 0.0
        self._carrier = carrier
        self.probes += 1
        self._timer = asyncio.get_running_loop().call_later(TICK, self._tick)
        return True

    def _tick(self) -> None:
        self._timer = None
        now = time.monotonic()
        started = self.started_at
        if started is None:
            return
        congested = self.downlink.congested_at
        if congested is not None and congested >= started:
            self._end(now, failed=True)
            return
        if now - started >= DURATION:
            self._end(now, failed=False)
            return
        carrier = self._carrier
        if carrier is None or carrier not in self.egress.downtracks or not self.egress.connected:
            self._end(now, failed=False, tried=False)
            return
        if not self.egress.queue:  # media first: no padding while packets wait
            self._credit = min(self._credit + self.bps * (now - self._last) / 8, self.bps * 0.05 / 8)
            while self._credit >= PADDING:
                data = carrier.padding(PADDING, now)
                if data is None:
                    break
                self.egress.send_now(data, padding=True)
                self._credit -= PADDING
                self.padding_bytes += len(data)
        self._last = now
        self._timer = asyncio.get_running_loop().call_later(TICK, self._tick)

    def _end(self, now: float, *, failed: bool, tried: bool = True) -> None:
        self.started_at = None
        self._carrier = None
        if failed:
            self.downlink.probe_failed(self.media_bps, now)
            self.failed += 1
            self.next_at = now + self.backoff
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        elif tried:
            self.next_at = now + AFTER_SUCCESS
            self.backoff = FIRST_BACKOFF

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.started_at = None
        self._carrier = None
