"""How much a subscriber can receive: its downlink estimate, from the RTCP it sends.

Three kinds of feedback, best first (a subscriber's client negotiates what it supports):

* **Transport-wide congestion control** (draft-holmer-rmcat-transport-wide-cc-extensions-01):
  the edge stamps a transport-wide sequence number (one counter per subscribe PC) on every
  video packet it sends and remembers when it sent each one and how big it was
  (:class:`TransportSequence`); the subscriber's RTPFB ``fmt 15`` feedback says which arrived and
  when (:func:`parse_twcc`). From that the edge knows the delivery rate, the loss and whether the
  one-way delay grows (a queue filling up on the path): :meth:`Downlink.on_transport_feedback`.
* **REMB** (draft-alvestrand-rmcat-remb): the subscriber's own estimate, computed from the
  abs-send-time header extension the edge stamps (:func:`parse_remb`).
* **Receiver reports** (RFC 3550 §6.4.2): the fraction of packets lost, the fallback when the
  client has neither.

:class:`Downlink` turns these into one number. Decreases apply at once; increases are limited to
a few percent a second, so the allocator steps up carefully. Feedback that does not parse, or
that speaks of packets this edge never sent, is ignored: it never counts as feedback and never
raises the estimate.
"""

from __future__ import annotations

import struct
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping

#: The header extension and RTCP feedback names for transport-wide congestion control.
TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

RTCP_RR, RTCP_SR, RTCP_RTPFB, RTCP_PSFB = 201, 200, 205, 206
RTPFB_TWCC, PSFB_APP = 15, 15

INITIAL = 800_000  # bits/s assumed before any feedback
MINIMUM = 30_000
MAXIMUM = 50_000_000
GROWTH = 0.12  # at most this much more per second after congestion
FAST_GROWTH = 0.5  # … and when there has been none for CALM seconds (or ever)
CALM = 10.0
DECREASE = 0.85  # of the delivery rate, when the path is congested
QUEUE_DELAY = 0.06  # seconds of queueing delay that mean congestion
PROVEN = 1.1  # × a rate delivered without congestion: the estimate may rise to it at once
#: A REMB under this × what its streams are sent at (headers included) is over-use; estimators
#: that count payload only (aiortc's) read about 10 % under the rate on the wire.
OVERUSE = 0.8
#: Seconds REMB over-use must last before the path counts as congested (a loaded CPU's jitter
#: makes a delay-based estimator dip for a moment).
OVERUSE_FOR = 1.0
#: Seconds congestion is remembered: while it is, a video that does not fit is paused.
CONGESTION_MEMORY = 30.0
#: Seconds a rate delivered without congestion (transport-wide feedback) stays proven.
PROVEN_FOR = 3.0
HISTORY = 8192  # sent packets remembered for feedback (a power of two)

_H = struct.Struct("!H")
_TWCC_HEAD = struct.Struct("!HHI")


# --- parsing -----------------------------------------------------------------------------------

def parse_twcc(fci: bytes) -> tuple[int, list[tuple[int, int | None]]]:
    """A transport feedback FCI as (feedback count, [(transport seq, arrival µs or None)]).

    Arrival times are on the receiver's clock (only differences mean anything). Raises
    :class:`ValueError` when the packet is malformed.
    """
    if len(fci) < 8:
        raise ValueError("transport feedback shorter than its header")
    base, count, ref = _TWCC_HEAD.unpack_from(fci)
    fb_count = ref & 0xFF
    reference = ref >> 8
    if reference & 0x800000:
        reference -= 0x1000000
    if count == 0:
        raise ValueError("transport feedback for no packets")
    symbols: list[int] = []
    pos = 8
    while len(symbols) < count:
        if pos + 2 > len(fci):
            raise ValueError("transport feedback chunks are truncated")
        chunk = _H.unpack_from(fci, pos)[0]
        pos += 2
        if not chunk & 0x8000:  # run length chunk
            symbol, run = (chunk >> 13) & 3, chunk & 0x1FFF
            if run == 0:
                raise ValueError("transport feedback run of length 0")
            symbols.extend([symbol] * min(run, count - len(symbols)))
        elif chunk & 0x4000:  # status vector of 7 two-bit symbols
            symbols.extend((chunk >> (12 - 2 * i)) & 3 for i in range(min(7, count - len(symbols))))
        else:  # status vector of 14 one-bit symbols
            symbols.extend((chunk >> (13 - i)) & 1 for i in range(min(14, count - len(symbols))))
    now = reference * 64000
    out: list[tuple[int, int | None]] = []
    for i, symbol in enumerate(symbols):
        seq = (base + i) & 0xFFFF
        if symbol == 0:
            out.append((seq, None))
            continue
        if symbol == 1:
            if pos + 1 > len(fci):
                raise ValueError("transport feedback deltas are truncated")
            delta = fci[pos]
            pos += 1
        elif symbol == 2:
            if pos + 2 > len(fci):
                raise ValueError("transport feedback deltas are truncated")
            delta = struct.unpack_from("!h", fci, pos)[0]
            pos += 2
        else:
            raise ValueError("transport feedback has a reserved status symbol")
        now += delta * 250
        out.append((seq, now))
    return fb_count, out


def parse_remb(fci: bytes) -> tuple[int, list[int]]:
    """A REMB FCI ("REMB", SSRC count, exponent/mantissa, SSRCs) as (bits/s, SSRCs)."""
    if len(fci) < 8 or fci[:4] != b"REMB":
        raise ValueError("not a REMB")
    n = fci[4]
    if len(fci) < 8 + 4 * n:
        raise ValueError("REMB SSRC list is truncated")
    exponent = fci[5] >> 2
    mantissa = ((fci[5] & 3) << 16) | (fci[6] << 8) | fci[7]
    return mantissa << exponent, list(struct.unpack_from(f"!{n}I", fci, 8))


def pack_remb(bitrate: int, ssrcs: list[int]) -> bytes:
    """A REMB FCI for *bitrate* bits/s about *ssrcs*."""
    exponent = 0
    mantissa = max(int(bitrate), 0)
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exponent += 1
    return (b"REMB" + bytes([len(ssrcs), (exponent << 2) | (mantissa >> 16), (mantissa >> 8) & 0xFF,
                             mantissa & 0xFF]) + b"".join(struct.pack("!I", s) for s in ssrcs))


class Feedback:
    """The congestion feedback in one compound RTCP packet (everything else is skipped)."""

    __slots__ = ("twcc", "remb", "losses")

    def __init__(self) -> None:
        self.twcc: list[bytes] = []
        self.remb: list[tuple[int, list[int]]] = []
        self.losses: list[tuple[int, float]] = []  # (reported SSRC, fraction lost)


def parse_rtcp(data: bytes) -> Feedback:
    """Pick transport feedback, REMB and report blocks out of a (decrypted) compound RTCP packet.
    A malformed part ends the parse: what came before it is kept."""
    fb = Feedback()
    pos = 0
    while pos + 4 <= len(data):
        first, kind, length = data[pos], data[pos + 1], _H.unpack_from(data, pos + 2)[0]
        end = pos + 4 + 4 * length
        if first >> 6 != 2 or end > len(data):
            break
        body = data[pos + 4:end]
        if first & 0x20 and body:  # padding
            if not 0 < body[-1] <= len(body):
                break
            body = body[:-body[-1]]
        count = first & 0x1F
        if kind in (RTCP_RR, RTCP_SR):
            start = 4 if kind == RTCP_RR else 24
            for i in range(count):
                block = body[start + 24 * i:start + 24 * (i + 1)]
                if len(block) < 24:
                    break
                fb.losses.append((struct.unpack_from("!I", block)[0], block[4] / 256))
        elif kind == RTCP_RTPFB and count == RTPFB_TWCC and len(body) >= 8:
            fb.twcc.append(body[8:])
        elif kind == RTCP_PSFB and count == PSFB_APP and len(body) >= 8:
            try:
                fb.remb.append(parse_remb(body[8:]))
            except ValueError:
                pass
        pos = end
    return fb


# --- the sending side of transport-wide cc -----------------------------------------------------

class TransportSequence:
    """One subscribe PC's transport-wide sequence numbers and what was sent under each."""

    __slots__ = ("seq", "times", "sizes")

    def __init__(self) -> None:
        self.seq = 1
        self.times = [0.0] * HISTORY
        self.sizes = [0] * HISTORY

    def stamp(self, size: int) -> int:
        """The sequence number for a packet of *size* bytes sent now."""
        seq = self.seq
        self.seq = (seq + 1) & 0xFFFF
        self.times[seq & (HISTORY - 1)] = time.monotonic()
        self.sizes[seq & (HISTORY - 1)] = size
        return seq

    def sent(self, seq: int) -> tuple[float, int] | None:
        """(send time, size) of *seq*, or None when it was never sent or is forgotten."""
        behind = (self.seq - seq) & 0xFFFF
        if behind == 0 or behind > HISTORY:
            return None
        i = seq & (HISTORY - 1)
        t = self.times[i]
        return (t, self.sizes[i]) if t else None


# --- the estimate ------------------------------------------------------------------------------

class Downlink:
    """A subscriber's downlink estimate in bits/s."""

    def __init__(self, initial: float = INITIAL) -> None:
        self.estimate = float(initial)
        #: monotonic time of the last usable feedback (None: none yet).
        self.last_feedback: float | None = None
        #: Where the estimate came from last: "twcc", "remb", "rr" or "".
        self.source = ""
        self.loss = 0.0
        self.queue_delay = 0.0
        self._queued_for = 0  # feedbacks in a row with queueing over QUEUE_DELAY
        #: Each packet's fate by transport-wide number, oldest first: (first reported, arrived,
        #: sent at, bytes).
        self._fates: OrderedDict[int, tuple[float, bool, float, int]] = OrderedDict()
        self.delivery = 0.0  # bits/s delivered (transport feedback)
        #: Bits/s the subscriber's tracks would take in full (set by the allocator): without
        #: congestion the estimate grows towards it, so what was paused or lowered is tried again.
        self.wanted = 0.0
        self._raised: float | None = None
        self._decreased: float | None = None
        #: When the subscriber's feedback last showed congestion (None: never). Until it has, the
        #: estimate is a guess that grows unopposed, and nothing is paused for it.
        self.congested_at: float | None = None
        self._overuse_since: float | None = None
        self._good: deque[tuple[float, float]] = deque()  # (time, delivery) without congestion
        #: Every video this subscriber shows is paused: nothing a quick guess could congest flows, so
        #: the estimate grows fast (the step back up is still one layer, and careful).
        self.video_paused = False
        self._floor = 0.0
        self._floor_until = -1e9
        self._twcc_at = -1e9
        self._remb_at = -1e9
        self._rembs: dict[tuple[int, ...], tuple[float, float, float, float]] = {}  # (time, value, proven, covered)
        self._base_delay: deque[tuple[float, float]] = deque()  # (time, min one-way delay in that second)
        self._acked: deque[tuple[float, float, int]] = deque()  # (arrival s, sent s, bytes) over the last second
        #: The path delivers clearly less than was sent over the same packets (a queue is growing).
        self.behind = False
        self._last_count = -1

    # decreases apply at once; increases are paced, except up to what has been *proven* (a
    # rate delivered without congestion, with some room over it)
    def _propose(self, value: float, now: float, source: str, proven: float = 0.0) -> None:
        value = min(max(value, MINIMUM), MAXIMUM)
        if now < self._floor_until:
            value = max(value, self._floor)
        self.source = source
        self.last_feedback = now
        if value < self.estimate:
            self.estimate = value
            self._decreased = now
            self._raised = now
            return
        elapsed = 0.0 if self._raised is None else min(max(now - self._raised, 0.0), 1.0)
        self._raised = now
        careful = self._decreased is not None and now - self._decreased < CALM and not self.video_paused
        growth = GROWTH if careful else FAST_GROWTH
        self.estimate = min(value, max(self.estimate * (1 + growth * elapsed), proven))

    def _hold(self, now: float, source: str) -> None:
        self.source = source
        self.last_feedback = now
        self._raised = now

    def on_remb(self, bitrate: int, covered_bps: float, other_bps: float = 0.0, about: Iterable[int] = (),
                now: float | None = None) -> None:
        """A REMB about some of this subscriber's streams (*about*, sent at *covered_bps*; the
        others at *other_bps*). Some clients send one REMB for all their streams, others one per
        stream: the estimate is the sum of the latest for each group, plus the streams none covers.
        A receiver-side estimator starts from what it receives and grows from there, so a REMB
        near what is sent says "no congestion"; one clearly under it says "over-use"."""
        now = time.monotonic() if now is None else now
        self._remb_at = now
        proven = 0.0
        if bitrate >= OVERUSE * covered_bps:  # near what it receives (payload-only estimators read low)
            proven = PROVEN * covered_bps
            bitrate = max(bitrate, int(proven))
        if bitrate >= OVERUSE * covered_bps:
            self._overuse_since = None
        elif self._overuse_since is None:
            self._overuse_since = now
        if self._overuse_since is not None and now - self._overuse_since >= OVERUSE_FOR:
            self.congested_at = now  # clearly under what it receives, and staying there: over-use
        rembs = self._rembs
        rembs[tuple(sorted(about))] = (now, float(bitrate), proven, covered_bps)
        for key in [k for k, v in rembs.items() if now - v[0] > 3.0]:
            del rembs[key]
        if now - self._twcc_at < 2.0:
            return  # transport feedback is better
        covered = sum(v[3] for v in rembs.values())
        rest = max(other_bps + covered_bps - covered, 0.0)
        rest = PROVEN * rest if proven else rest
        value = sum(v[1] for v in rembs.values()) + rest
        if proven and all(v[2] for v in rembs.values()):
            value = max(value, self.wanted)  # no congestion anywhere: grow towards what is wanted
        self._propose(value, now, "remb", sum(v[2] for v in rembs.values()) + rest if proven else 0.0)

    def on_loss(self, fraction: float, sent_bps: float, now: float | None = None) -> None:
        """A receiver report's fraction lost, for a stream this subscriber receives."""
        now = time.monotonic() if now is None else now
        if not 0.0 <= fraction <= 1.0:
            return
        if fraction > 0.1:
            self.congested_at = now  # heavy loss is congestion, whichever estimator leads
        if now - self._twcc_at < 2.0 or now - self._remb_at < 2.0:
            self.last_feedback = now  # still feedback; the better kind decides
            return
        self.loss = fraction
        if fraction > 0.1:
            self._propose(self.estimate * (1 - 0.5 * fraction), now, "rr")
        elif fraction < 0.02 and max(2 * sent_bps + 100_000, self.wanted) > self.estimate:
            self._propose(max(2 * sent_bps + 100_000, self.wanted), now, "rr", PROVEN * sent_bps)
        else:
            self._hold(now, "rr")

    def on_transport_feedback(self, fci: bytes, sent: TransportSequence, now: float | None = None) -> bool:
        """One transport feedback FCI; False (and no effect) when it is malformed or speaks only
        of packets this edge did not send."""
        now = time.monotonic() if now is None else now
        try:
            _, results = parse_twcc(fci)
        except (ValueError, struct.error):
            return False
        known = [(seq, arrival, s) for seq, arrival in results if (s := sent.sent(seq)) is not None]
        if not known:
            return False
        received = [(arrival / 1e6, s[0], s[1]) for _, arrival, s in known if arrival is not None]

        self._twcc_at = now
        # loss over the last two seconds' packets, when there were enough of them: a stream's first
        # burst or one late keyframe is not a lossy path. A packet reported missing and then
        # received (feedback sent before it arrived, or it came late) was not lost.
        fates = self._fates
        for seq, arrival, (sent_at, size) in known:
            if arrival is not None:
                fates[seq] = (fates[seq][0] if seq in fates else now, True, sent_at, size)
            elif seq not in fates:
                fates[seq] = (now, False, sent_at, size)
        while fates and now - next(iter(fates.values()))[0] > 2.0:
            fates.popitem(last=False)
        lost_now = sum(1 for f in fates.values() if not f[1])
        self.loss = lost_now / len(fates) if len(fates) >= 100 else 0.0
        if received:
            # one-way delay, up to a constant: its growth over the smallest seen lately is queueing
            delays = [a - t for a, t, _ in received]
            low = min(delays)
            base = self._base_delay
            while base and base[-1][1] >= low:
                base.pop()
            base.append((now, low))
            while base and now - base[0][0] > 10.0:
                base.popleft()
            floor = base[0][1]
            # the least delayed packet of the feedback: a queue delays them all, a busy machine some
            queued = max(low - floor, 0.0)
            self.queue_delay = 0.5 * self.queue_delay + 0.5 * queued  # smoothed: one late burst is no queue
            self._queued_for = self._queued_for + 1 if queued > QUEUE_DELAY else 0
            acked = self._acked
            acked.extend(received)
            newest = max(a for a, _, _ in received)
            while acked and newest - acked[0][0] > 1.0:
                acked.popleft()
            span = newest - acked[0][0]
            first_sent = min(t for _, t, _ in received)
            sent_span = max(max(t for _, t, _ in received) - first_sent, 0.0)
            if span > 0.2 and len(acked) > 4:
                total = sum(size for _, _, size in acked)
                rate = 8 * (total - acked[0][2]) / span  # sizes between the first and last
                if sent_span > 0:  # a receiver cannot take packets faster than they were sent
                    rate = min(rate, 8 * sum(size for _, _, size in received) / sent_span * 1.5 + 8 * 1500 / span)
                self.delivery = rate
                # what was sent over the same time, lost packets too: a path that keeps up
                # delivers about that
                oldest = min(t for _, t, _ in acked)
                window = [(t, size) for _, _, t, size in fates.values() if t >= oldest]
                sending = max(t for t, _ in window) - oldest if window else 0.0
                sent_bits = 8 * (sum(size for _, size in window) - window[0][1]) if window else 0
                self.behind = sending > 0.2 and rate < 0.9 * sent_bits / sending
        # congestion: losses behind a queue (a full bottleneck drops what it cannot hold), or a
        # queue that stays (over the threshold in three feedbacks in a row) while the path
        # delivers less than was sent. A loaded machine's jitter delays some packets and keeps
        # up; packets a receiver drops itself (before it has the keys, or for a stream it does
        # not know yet) are missing with no queue in front of them.
        congested = ((self.loss > 0.1 and self.queue_delay > QUEUE_DELAY / 3)
                     or (self.queue_delay > QUEUE_DELAY and self._queued_for >= 3 and self.behind))
        if congested and self.delivery > 0:
            self.congested_at = now
            self._good.clear()
            if self._decreased is None or now - self._decreased > 0.3:
                self._propose(min(self.estimate, DECREASE * self.delivery), now, "twcc")
            else:
                self._hold(now, "twcc")
        elif self.loss < 0.02 and self.queue_delay < QUEUE_DELAY / 3 and self.delivery > 0:
            good = self._good
            good.append((now, self.delivery))
            while now - good[0][0] > PROVEN_FOR:
                good.popleft()
            # room to grow, up to a little over what is delivered (the allocator tries the next
            # layer carefully and backs off when that congests the path)
            cap = max(2 * self.delivery + 100_000, self.wanted)
            if cap > self.estimate:
                self._propose(cap, now, "twcc", PROVEN * self.delivery)
            else:
                self._hold(now, "twcc")
        else:
            self._hold(now, "twcc")
        return True

    def on_rtcp(self, data: bytes, rates: Mapping[int, float], sent: TransportSequence | None,
                now: float | None = None) -> bool:
        """A decrypted compound RTCP packet from the subscriber, whose streams are sent at
        *rates* (bits/s by SSRC); True if it held usable feedback."""
        now = time.monotonic() if now is None else now
        fb = parse_rtcp(data)
        mine = rates.keys()
        sent_bps = sum(rates.values())
        used = False
        if sent is not None:
            for fci in fb.twcc:
                used = self.on_transport_feedback(fci, sent, now) or used
        for bitrate, listed in fb.remb:
            about = [ssrc for ssrc in listed if ssrc in mine]
            if about:
                covered = sum(rates[ssrc] for ssrc in about)
                self.on_remb(bitrate, covered, sent_bps - covered, about, now)
                used = True
        for ssrc, fraction in fb.losses:
            if ssrc in mine:
                self.on_loss(fraction, sent_bps, now)
                used = True
        return used

    def proven_rate(self, now: float) -> float:
        """Bits/s the path has shown it carries: :data:`PROVEN` × the most transport-wide feedback
        saw delivered without congestion in the last :data:`PROVEN_FOR` seconds (0: nothing)."""
        recent = [d for t, d in self._good if now - t <= PROVEN_FOR]
        return PROVEN * max(recent) if recent else 0.0

    def probe_failed(self, media_bps: float, now: float, drain: float = 2.0) -> None:
        """A probe's padding congested the path: for *drain* seconds, while the queue it filled
        empties, the estimate stays at or above :data:`PROVEN` × *media_bps* (what flowed without
        congestion before the probe), so the media is not lowered for what the padding did."""
        self._floor, self._floor_until = PROVEN * media_bps, now + drain
        self.estimate = max(self.estimate, self._floor)

    def congested_lately(self, now: float) -> bool:
        """The path showed congestion in the last :data:`CONGESTION_MEMORY` seconds."""
        return self.congested_at is not None and now - self.congested_at < CONGESTION_MEMORY

    def transport_wide(self, now: float) -> bool:
        """Transport-wide feedback leads the estimate now."""
        return now - self._twcc_at < 2.0

    def silent_for(self, now: float) -> float | None:
        """Seconds since the last usable feedback (None: never had any)."""
        return None if self.last_feedback is None else now - self.last_feedback
