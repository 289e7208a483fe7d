"""The downlink estimators: feedback parsing, and estimates on simulated links."""

from __future__ import annotations

import random

import pytest

from edge.sfu import bandwidth as bw
from edge.sfu.bandwidth import Downlink, TransportSequence, parse_remb, parse_rtcp, parse_twcc
from tests.edge.sfu.twcc_support import psfb_remb, receiver_report, rtpfb, twcc_fci


def test_transport_feedback_round_trip() -> None:
    arrivals: list[int | None] = [1_000_000, 1_000_250, None, None, 1_080_000, 1_070_000]  # large and negative deltas
    arrivals += [1_090_000 + 1000 * i for i in range(20)] + [None] * 9
    fb_count, results = parse_twcc(twcc_fci(65530, arrivals, reference_us=960_000, fb_count=7))
    assert fb_count == 7
    assert [seq for seq, _ in results] == [(65530 + i) & 0xFFFF for i in range(len(arrivals))]
    assert [a for _, a in results] == arrivals


@pytest.mark.parametrize("fci", [b"", b"\x00" * 7, bytes.fromhex("0001 0000 00000000"),  # no packets
                                 bytes.fromhex("0001 0005 00000000"),  # chunks missing
                                 bytes.fromhex("0001 0002 00000000 2002"),  # deltas missing
                                 bytes.fromhex("0001 0002 00000000 6002 0000"),  # reserved symbol
                                 bytes.fromhex("0001 0002 00000000 0000")])  # run of 0
def test_malformed_transport_feedback_is_refused(fci: bytes) -> None:
    with pytest.raises(ValueError):
        parse_twcc(fci)


def test_remb_round_trip() -> None:
    assert parse_remb(bw.pack_remb(1_234_567, [5, 6])) == ((1_234_567 >> 3) << 3, [5, 6])
    assert parse_remb(bw.pack_remb(300_000, [])) == (300_000, [])
    with pytest.raises(ValueError):
        parse_remb(b"REMB\x02\x00\x00\x01" + b"\x00" * 4)


def test_compound_rtcp_picks_out_feedback() -> None:
    data = receiver_report(0xABC, 0.25) + psfb_remb(500_000, [0xABC]) + rtpfb(twcc_fci(1, [0, 250]))
    fb = parse_rtcp(data)
    assert fb.losses == [(0xABC, 0.25)]
    assert fb.remb == [(500_000, [0xABC])]
    assert len(fb.twcc) == 1 and parse_twcc(fb.twcc[0])[1] == [(1, 0), (2, 250)]


def test_sequence_remembers_only_what_was_sent() -> None:
    seq = TransportSequence()
    first = seq.stamp(1000)
    assert seq.sent(first) is not None and seq.sent(first)[1] == 1000  # type: ignore[index]
    assert seq.sent(first + 1) is None  # not sent yet
    for _ in range(bw.HISTORY):
        seq.stamp(10)
    assert seq.sent(first) is None  # forgotten


class Link:
    """A bottleneck of *capacity* bits/s with a drop-tail queue of *limit* seconds (like tbf)."""

    def __init__(self, capacity: float, limit: float = 0.2) -> None:
        self.capacity, self.limit, self.free = capacity, limit, 0.0

    def carry(self, sent: float, size: int) -> float | None:
        start = max(sent, self.free)
        if start - sent > self.limit:
            return None
        self.free = start + size * 8 / self.capacity
        return self.free


def simulate(estimator: Downlink, capacity: float, rate: float, seconds: float,
             rate_of: object = None) -> TransportSequence:
    """Send at *rate* (or ``rate_of(estimate)``) through a :class:`Link`; feedback every 100 ms."""
    link, seq = Link(capacity), TransportSequence()
    t, pending, base_time = 0.0, [], 0.0
    next_feedback = 0.1
    while t < seconds:
        r = rate_of(estimator.estimate) if callable(rate_of) else rate
        s = seq.stamp(1200)
        seq.times[s & (bw.HISTORY - 1)] = 1000 + t
        arrival = link.carry(t, 1200)
        pending.append((s, None if arrival is None else int((arrival + 0.02 + base_time) * 1e6)))
        t += 1200 * 8 / r
        if t >= next_feedback:
            next_feedback += 0.1
            first, arrivals = pending[0][0], [a for _, a in pending]
            reference = min((a for a in arrivals if a is not None), default=0)
            assert estimator.on_transport_feedback(twcc_fci(first, arrivals, reference_us=reference),
                                                   seq, now=1000 + t)
            pending = []
    return seq


def test_a_thin_link_is_found() -> None:
    est = Downlink(initial=1_000_000)
    simulate(est, capacity=300_000, rate=1_000_000, seconds=3)
    assert 150_000 < est.estimate < 300_000
    assert est.source == "twcc"


def test_an_estimate_grows_on_a_clear_link_but_gradually() -> None:
    est = Downlink(initial=300_000)
    simulate(est, capacity=10_000_000, rate=0, seconds=5, rate_of=lambda e: e * 0.9)
    assert 300_000 * 3 < est.estimate < 300_000 * (1 + bw.FAST_GROWTH) ** 6  # no congestion yet: fast
    after_congestion = Downlink(initial=300_000)
    after_congestion.on_loss(0.5, 0.0, now=1000.0)  # congestion: slowly from here
    before = after_congestion.estimate
    simulate(after_congestion, capacity=10_000_000, rate=0, seconds=5, rate_of=lambda e: e * 0.9)
    assert before < after_congestion.estimate < before * (1 + bw.GROWTH) ** 6


def test_a_sender_that_follows_the_estimate_settles_under_the_link() -> None:
    est = Downlink(initial=1_500_000)
    simulate(est, capacity=300_000, rate=0, seconds=20, rate_of=lambda e: e * 0.9)
    assert 150_000 < est.estimate < 450_000


def test_receiver_report_loss_fallback() -> None:
    est = Downlink(initial=1_000_000)
    est.on_loss(0.3, sent_bps=1_000_000, now=1.0)
    assert est.estimate == pytest.approx(850_000)
    assert est.source == "rr"
    est.on_loss(0.0, sent_bps=100_000, now=2.0)
    assert est.estimate == pytest.approx(850_000)  # sending little says nothing about more
    est.on_loss(0.0, sent_bps=800_000, now=3.0)
    assert 850_000 < est.estimate <= 850_000 * (1 + bw.GROWTH)


def test_remb_wins_over_reports_and_rises_gradually() -> None:
    est = Downlink(initial=500_000)
    est.on_remb(5_000_000, 300_000, about=[1], now=0.0)
    est.on_remb(5_000_000, 300_000, about=[1], now=1.0)
    assert 500_000 < est.estimate <= 500_000 * (1 + bw.FAST_GROWTH)
    est.on_loss(0.5, sent_bps=500_000, now=1.5)  # REMB speaks for this subscriber
    assert est.estimate > 500_000
    est.on_remb(200_000, 300_000, about=[1], now=2.0)
    assert est.estimate == 200_000


def test_rembs_per_stream_add_up_with_the_streams_none_covers() -> None:
    est = Downlink(initial=100_000)
    est.on_remb(400_000, 400_000, 300_000, about=[1], now=0.0)
    est.on_remb(250_000, 250_000, 450_000, about=[2], now=0.1)
    # each says "what I get is fine": at least what is sent, with room, for both plus the audio
    assert est.estimate == pytest.approx(bw.PROVEN * 700_000)
    est.on_remb(100_000, 400_000, 300_000, about=[1], now=0.5)  # over-use on stream 1
    assert est.estimate == pytest.approx(100_000 + bw.PROVEN * 250_000 + 50_000)


def test_garbage_feedback_is_no_feedback_and_never_raises_the_estimate() -> None:
    rng = random.Random(10)
    seq = TransportSequence()
    for _ in range(100):
        seq.stamp(1200)
    est = Downlink(initial=400_000)
    for i in range(3000):
        n = rng.randrange(0, 80)
        junk = bytes(rng.randrange(256) for _ in range(n))
        if i % 3 == 0:  # structurally valid RTCP headers around junk
            junk = rtpfb(junk) if i % 2 else bytes([0x8F, 206]) + len(junk).to_bytes(2, "big") + junk
        est.on_rtcp(junk, {1: 200_000, 2: 200_000}, seq, now=float(i))
        assert est.estimate <= 400_000
    # feedback about packets never sent is ignored
    assert not est.on_transport_feedback(twcc_fci(5000, [0, 250, 500]), seq, now=5000.0)
    assert est.estimate <= 400_000


def test_a_rate_delivered_without_congestion_is_kept_at_once() -> None:
    est = Downlink(initial=500_000)
    est.on_remb(1_000_000, 1_000_000, now=1.0)  # a receiver estimate starting from what it gets
    assert est.estimate == pytest.approx(bw.PROVEN * 1_000_000)
    est.on_remb(700_000, 1_000_000, now=2.0)  # clearly under: over-use
    assert est.estimate == 700_000


def test_only_congestion_signals_mark_the_path_congested() -> None:
    est = Downlink(initial=800_000)
    est.on_remb(400_000, 380_000, about=[1], now=0.0)  # about what it receives: no over-use
    est.on_loss(0.05, sent_bps=400_000, now=0.5)
    assert est.congested_at is None
    est.on_remb(300_000, 400_000, about=[1], now=0.8)  # a payload-only estimator's reading
    est.on_remb(100_000, 400_000, about=[1], now=1.0)  # clearly under what it receives …
    assert est.congested_at is None  # … for a moment: a dip, not yet over-use
    est.on_remb(400_000, 400_000, about=[1], now=1.2)
    est.on_remb(100_000, 400_000, about=[1], now=1.5)
    est.on_remb(100_000, 400_000, about=[1], now=2.4)
    assert est.congested_at is None  # the dip was over at 1.2: it lasts from 1.5
    est.on_remb(100_000, 400_000, about=[1], now=2.5)
    assert est.congested_at == 2.5
    est.on_loss(0.3, sent_bps=400_000, now=2.6)  # REMB leads, but heavy loss is congestion all the same
    assert est.congested_at == 2.6
    rr = Downlink(initial=800_000)
    rr.on_loss(0.01, sent_bps=1_000_000, now=0.0)
    assert rr.congested_at is None
    rr.on_loss(0.3, sent_bps=1_000_000, now=1.0)
    assert rr.congested_at == 1.0
    twcc = Downlink(initial=1_000_000)
    simulate(twcc, capacity=10_000_000, rate=500_000, seconds=3)
    assert twcc.congested_at is None
    simulate(twcc, capacity=300_000, rate=1_000_000, seconds=3)
    assert twcc.congested_at is not None


def test_what_a_path_delivered_without_congestion_is_proven_for_a_while() -> None:
    est = Downlink(initial=300_000)
    assert est.proven_rate(1000.0) == 0.0  # nothing delivered yet
    simulate(est, capacity=10_000_000, rate=600_000, seconds=3)  # (feedback times are 1000 + t)
    assert est.transport_wide(1003.0)
    assert 0.9 * bw.PROVEN * 600_000 < est.proven_rate(1003.0) < 1.2 * bw.PROVEN * 600_000
    assert est.proven_rate(1003.0 + bw.PROVEN_FOR + 0.5) == 0.0  # old news
    congested = Downlink(initial=1_000_000)
    simulate(congested, capacity=300_000, rate=1_000_000, seconds=3)
    assert congested.proven_rate(1003.0) < 300_000 * bw.PROVEN  # never more than the link carried


def test_a_failed_probe_does_not_lower_the_estimate_under_what_flowed_before_it() -> None:
    est = Downlink(initial=400_000)
    est.probe_failed(200_000, now=10.0)
    floor = bw.PROVEN * 200_000
    assert est.estimate == 400_000
    est.on_loss(1.0, sent_bps=200_000, now=10.5)  # the padding's queue: congestion, while it drains
    assert est.estimate == floor
    est.on_loss(1.0, sent_bps=200_000, now=12.5)  # drained, and still lossy: the media's own congestion
    assert est.estimate < floor


def test_delay_from_a_loaded_machine_that_keeps_up_is_not_congestion() -> None:
    """Every other packet held 150 ms (a busy CPU on either side), all delivered as fast as they
    were sent: the average delay stays high feedback after feedback, yet nothing queues up for
    good — nothing is lowered or marked."""
    est = Downlink(initial=1_000_000)
    seq = TransportSequence()
    t = 0.0
    for _ in range(40):  # 4 s, feedback every 100 ms
        first, arrivals = None, []
        for i in range(10):  # 10 packets of 1200 B each 100 ms: 960 kb/s
            s = seq.stamp(1200)
            seq.times[s & (bw.HISTORY - 1)] = 1000 + t
            first = s if first is None else first
            arrivals.append(int((t + 0.02 + (0.15 if i % 2 else 0.0)) * 1e6))
            t += 0.01
        est.on_transport_feedback(twcc_fci(first, arrivals, reference_us=min(arrivals)), seq, now=1000 + t)
    # the average delay stays 75 ms over the least ever seen, feedback after feedback; the least
    # delayed packet of each feedback shows there is no queue
    assert est.queue_delay < bw.QUEUE_DELAY / 3
    assert not est.behind and est.congested_at is None and est.estimate >= 1_000_000


def test_a_packet_reported_missing_and_then_received_was_not_lost() -> None:
    """Receivers send feedback on a timer: a packet still on its way is reported missing, and
    received in the next feedback. Counted once, by its fate, that is no loss at all."""
    est = Downlink(initial=1_000_000)
    seq = TransportSequence()
    t, carried = 0.0, None
    for _ in range(30):  # 3 s, feedback every 100 ms, the last packet of each still on its way
        first = None
        arrivals: list[int | None] = []
        if carried is not None:  # last feedback's late packet, received now
            first = carried
            arrivals.append(int((t + 0.02) * 1e6))
        for i in range(10):
            s = seq.stamp(1200)
            seq.times[s & (bw.HISTORY - 1)] = 1000 + t
            first = s if first is None else first
            arrivals.append(None if i == 9 else int((t + 0.02) * 1e6))
            carried = s
            t += 0.01
        est.on_transport_feedback(twcc_fci(first, arrivals, reference_us=min(a for a in arrivals if a)), seq,
                                  now=1000 + t)
    assert est.loss < 0.02 and est.congested_at is None


def test_packets_missing_with_no_queue_in_front_of_them_are_not_congestion() -> None:
    """A receiver that drops packets itself (before it has the keys, or for a stream it does not
    know yet) reports them missing; nothing queued up in front of them, so that is loss, not a
    bottleneck."""
    est = Downlink(initial=1_000_000)
    seq = TransportSequence()
    t = 0.0
    for _ in range(30):
        first, arrivals = None, []
        for i in range(10):
            s = seq.stamp(1200)
            seq.times[s & (bw.HISTORY - 1)] = 1000 + t
            first = s if first is None else first
            arrivals.append(None if i % 4 == 0 else int((t + 0.02) * 1e6))
            t += 0.01
        est.on_transport_feedback(twcc_fci(first, arrivals, reference_us=min(a for a in arrivals if a)), seq,
                                  now=1000 + t)
    assert est.loss > 0.2 and est.congested_at is None


def test_while_every_video_is_paused_the_estimate_grows_fast_again() -> None:
    careful, paused = Downlink(initial=400_000), Downlink(initial=400_000)
    for est in (careful, paused):
        est.wanted = 2_000_000  # what the subscriber's tracks would take
        est.on_loss(0.5, sent_bps=400_000, now=0.0)  # congestion: 300 kb/s, then careful growth
    paused.video_paused = True  # the allocator paused every video: only audio flows
    for t in range(1, 6):
        for est in (careful, paused):
            est.on_loss(0.0, sent_bps=50_000, now=float(t))
    assert careful.estimate < 300_000 * (1 + bw.GROWTH) ** 5 * 1.01
    assert paused.estimate > 300_000 * (1 + bw.FAST_GROWTH) ** 4


def test_congestion_is_remembered_for_a_while_not_forever() -> None:
    est = Downlink(initial=800_000)
    assert not est.congested_lately(0.0)
    est.on_loss(0.5, sent_bps=800_000, now=10.0)
    assert est.congested_lately(10.0 + bw.CONGESTION_MEMORY - 1)
    assert not est.congested_lately(10.0 + bw.CONGESTION_MEMORY + 1)  # long ago: the path may be fine now


def test_a_remb_a_little_under_what_is_sent_is_no_congestion() -> None:
    """aiortc's estimator counts payload only: about 10 % under the rate on the wire."""
    est = Downlink(initial=100_000)
    est.on_remb(40_000, 45_000, about=[1], now=0.0)
    assert est.estimate >= bw.PROVEN * 45_000 * 0.99 and est.congested_at is None
