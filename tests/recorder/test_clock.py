"""The meeting clock (recorder.clock): RTP timestamps unwrapped and put on one wall clock by RTCP
Sender Reports (RFC 3550 §6.4.1), with arrival time as the fallback before the first one."""

from __future__ import annotations

import random

import pytest

from recorder.clock import MeetingClock, StreamClock, TimestampUnwrapper, ntp_to_unix, unix_to_ntp


def test_timestamps_unwrap_across_2_to_the_32() -> None:
    unwrap = TimestampUnwrapper().unwrap
    assert [unwrap(t) for t in (2**32 - 10, 2**32 - 5, 5, 2**32 - 7, 100)] == [2**32 - 10, 2**32 - 5, 2**32 + 5,
                                                                               2**32 - 7, 2**32 + 100]
    ts, extended = 123, []
    for _ in range(20):                                    # five full turns, a quarter at a time
        ts = (ts + 2**30) % 2**32
        extended.append(unwrap(ts))
    assert extended == [2**32 + 100 + 23 + k * 2**30 for k in range(1, 21)]


def test_ntp_timestamps() -> None:
    assert ntp_to_unix(2208988800 << 32) == 0.0
    assert ntp_to_unix((2208988800 + 1_700_000_000 << 32) + 2**31) == 1_700_000_000.5
    t = 1_712_345_678.123456
    assert abs(ntp_to_unix(unix_to_ntp(t)) - t) < 1e-6


def test_before_a_sender_report_the_first_arrival_anchors_the_stream() -> None:
    clock = StreamClock(48000)
    assert not clock.synced
    assert clock.seconds(2**32 - 480, arrival=100.0) == 100.0
    assert clock.seconds(480, arrival=500.0) == pytest.approx(100.02)      # later arrivals do not move it
    with pytest.raises(ValueError):
        StreamClock(0)


def test_sender_reports_put_audio_and_video_on_one_clock() -> None:
    """A sender captures audio (48 kHz, 20 ms frames) and video (90 kHz, 15 fps) with random RTP
    offsets; they reach the recorder with different delays and jitter. Before the Sender Reports the
    tracks are offset by their difference in delay; after them, within 10 ms of each other and of
    the capture time."""
    rng = random.Random(7)
    t0 = 1_700_000_000.25                   # the sender's wall clock at the first capture
    streams = {1: (48000, 2**32 - 24000, 0.020, 0.030), 2: (90000, rng.randrange(2**32), 1 / 15, 0.140)}
    meeting = MeetingClock()

    def stamp(ssrc: int, t: float) -> float:
        rate, offset, _, delay = streams[ssrc]
        rtp = (offset + round((t - t0) * rate)) % 2**32
        return meeting.seconds(ssrc, rate, rtp, arrival=t + delay + rng.uniform(0, 0.015))

    # before the Sender Reports: arrival-based, the 110 ms difference of delays apart
    assert stamp(1, t0) - stamp(2, t0) == pytest.approx(-0.11, abs=0.016)
    assert not meeting.streams[1].synced and not meeting.streams[2].synced
    meeting.sender_report(2, unix_to_ntp(t0 + 0.5), (streams[2][1] + 45000) % 2**32)
    meeting.sender_report(1, unix_to_ntp(t0 + 1.0), (streams[1][1] + 48000) % 2**32)
    for k in range(1, 40):                  # every 200 ms both have a frame, for 8 s; audio wraps meanwhile
        t = t0 + 0.2 * k
        audio, video = stamp(1, t), stamp(2, t)
        assert abs(audio - video) < 0.010
        assert abs(audio - t) < 0.001 and abs(video - t) < 0.001


def test_the_latest_sender_report_rules() -> None:
    clock = StreamClock(90000)
    clock.sender_report(unix_to_ntp(1000.0), 9000)
    assert clock.seconds(18000) == pytest.approx(1000.1)
    clock.sender_report(unix_to_ntp(1001.01), 90000 + 9000)     # the RTP clock ran 10 ms slow meanwhile
    assert clock.seconds(18000) == pytest.approx(1000.11)


def test_a_sender_report_before_the_first_packet_is_kept() -> None:
    meeting = MeetingClock()
    meeting.sender_report(5, unix_to_ntp(2000.0), 2**32 - 900)
    assert meeting.stream(5, 90000).synced
    assert meeting.seconds(5, 90000, 8100, arrival=5000.0) == pytest.approx(2000.1)
    assert meeting.stream(5, 90000) is meeting.streams[5]
