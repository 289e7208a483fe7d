"""Probing a subscriber's downlink with padding (edge.sfu.probe), over a real SRTP session and
UDP socket: how much padding goes out, when a probe stops, and how the next one waits."""

from __future__ import annotations

import time

from edge.sfu import probe
from edge.sfu.bandwidth import Downlink
from edge.sfu.probe import Prober
from tests.edge.sfu.test_downtrack import DELTA, KEY, Subscriber, downtrack, source, sub  # noqa: F401 — fixture
from tests.support.util import eventually


async def flowing(sub: Subscriber):  # noqa: ANN201, F811
    src, _ = source()
    dt = await downtrack(src, sub)
    src.push(seq=1, ts=3000, marker=1, payload=KEY, level=-1)
    return src, dt


async def test_a_probe_pads_towards_its_goal_for_its_duration_and_then_lets_the_next_follow(
        sub: Subscriber) -> None:  # noqa: F811
    src, dt = await flowing(sub)
    prober = Prober(dt.egress, Downlink())
    assert prober.carrier() is dt
    started = time.monotonic()
    # 100 kb/s sent now, 1 Mb/s wanted: the first probe aims at twice what flows (+100 kb/s)
    assert prober.start(target_bps=1_000_000, sent_bps=100_000, now=started)
    assert prober.bps == 100_000
    assert not prober.start(target_bps=1_000_000, sent_bps=100_000)  # one at a time
    await eventually(lambda: not prober.probing, timeout=5, what="the probe ends")
    took = time.monotonic() - started
    assert probe.DURATION <= took < probe.DURATION + 1.0
    padded = [p for p in sub.read() if p.padding_size]
    assert all(p.payload == b"" and p.ssrc == dt.ssrc for p in padded)
    sent_bits = 8 * sum(p.padding_size for p in padded)
    assert 0.5 * 100_000 * probe.DURATION <= sent_bits <= 1.2 * 100_000 * took, sent_bits
    assert prober.failed == 0 and prober.next_at - time.monotonic() <= probe.AFTER_SUCCESS
    # media goes on after the padding, in one sequence
    src.push(seq=2, ts=6000, marker=1, payload=DELTA, level=-1)
    await eventually(lambda: sub.read()[-1].payload == DELTA, timeout=2, what="media after the padding")
    seqs = [p.sequence_number for p in sub.packets]
    assert [(b - a) % 65536 for a, b in zip(seqs, seqs[1:])] == [1] * (len(seqs) - 1)


async def test_congestion_stops_a_probe_at_once_and_the_next_waits_twice_as_long(sub: Subscriber) -> None:  # noqa: F811
    _, dt = await flowing(sub)
    downlink = Downlink()
    prober = Prober(dt.egress, downlink)
    assert prober.start(target_bps=2_000_000, sent_bps=500_000)
    await eventually(lambda: prober.padding_bytes > 0, timeout=2, what="padding sent")
    downlink.congested_at = time.monotonic()  # the feedback shows a queue: the padding met it
    await eventually(lambda: not prober.probing, timeout=0.5, interval=0.01, what="the probe stops")
    assert prober.failed == 1
    now = time.monotonic()
    assert prober.next_at - now > probe.FIRST_BACKOFF - 0.5 and prober.backoff == 2 * probe.FIRST_BACKOFF
    assert not prober.start(target_bps=2_000_000, sent_bps=500_000, now=now)  # backing off
    assert prober.start(target_bps=2_000_000, sent_bps=500_000, now=prober.next_at)
    prober.stop()


async def test_no_probe_without_a_stream_to_carry_it_or_while_packets_wait(sub: Subscriber) -> None:  # noqa: F811
    src, _ = source()
    dt = await downtrack(src, sub)
    prober = Prober(dt.egress, Downlink())
    assert prober.carrier() is None and not prober.start(target_bps=1_000_000, sent_bps=0)
    src.push(seq=1, ts=3000, marker=1, payload=KEY, level=-1)
    assert not prober.start(target_bps=80_000, sent_bps=100_000)  # nothing to add
    dt.egress.set_rate(8000)  # a thin cap: packets queue
    for i in range(2, 6):
        src.push(seq=i, ts=3000 * i, marker=1, payload=DELTA + bytes(600), level=-1)
    assert dt.egress.queue
    assert not prober.start(target_bps=1_000_000, sent_bps=100_000)
