"""The meeting clock: every track's RTP timestamps as seconds on one wall clock (Unix time).

An RTP timestamp (RFC 3550 §5.1) counts in the stream's clock rate from a random start and wraps
at 2**32; it is first extended to an unbounded count. An RTCP Sender Report (RFC 3550 §6.4.1)
pairs an NTP wall time of the sender with the RTP timestamp of that instant, so once one is known
``wall = sr_ntp + (rtp - sr_rtp) / clock_rate``: the audio and video of a sender, whatever their
clock rates and random offsets, land on the sender's wall clock and play in sync. Before any
Sender Report a stream falls back to the arrival time of its first packet plus the RTP time
elapsed since; the first Sender Report then moves it by the difference, usually a few tens of ms.
"""

from __future__ import annotations

import time

NTP_UNIX_OFFSET = 2208988800   # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


def ntp_to_unix(ntp_timestamp: int) -> float:
    """A 64-bit NTP timestamp (32.32 fixed point seconds since 1900) as Unix seconds."""
    return (ntp_timestamp >> 32) - NTP_UNIX_OFFSET + (ntp_timestamp & 0xFFFFFFFF) / 2**32


def unix_to_ntp(seconds: float) -> int:
    """Unix seconds as a 64-bit NTP timestamp."""
    return round((seconds + NTP_UNIX_OFFSET) * 2**32) & 0xFFFFFFFFFFFFFFFF


class TimestampUnwrapper:
    """Extends 32-bit RTP timestamps: each is taken as the nearest (within 2**31) to the last one."""

    def __init__(self) -> None:
        self._last: int | None = None

    def unwrap(self, timestamp: int) -> int:
        timestamp &= 0xFFFFFFFF
        if self._last is None:
            self._last = timestamp
            return timestamp
        delta = (timestamp - self._last) & 0xFFFFFFFF
        if delta >= 1 << 31:
            delta -= 1 << 32
        self._last += delta
        return self._last


class StreamClock:
    """One RTP stream (one SSRC) on the meeting clock."""

    def __init__(self, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise ValueError("clock rate must be positive")
        self.clock_rate = clock_rate
        self._unwrapper = TimestampUnwrapper()
        self._sender_report: tuple[float, int] | None = None   # (wall seconds, extended RTP time)
        self._first: tuple[float, int] | None = None           # (arrival seconds, extended RTP time)

    @property
    def synced(self) -> bool:
        """Whether a Sender Report maps this stream (else it runs on arrival time)."""
        return self._sender_report is not None

    def sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """Take the NTP and RTP timestamps of a Sender Report for this stream; the latest one rules."""
        self._sender_report = (ntp_to_unix(ntp_timestamp), self._unwrapper.unwrap(rtp_timestamp))

    def seconds(self, rtp_timestamp: int, arrival: float | None = None) -> float:
        """The meeting clock time of *rtp_timestamp*; *arrival* (Unix seconds, default now) is only
        read for the stream's first timestamp while no Sender Report is known."""
        extended = self._unwrapper.unwrap(rtp_timestamp)
        if self._sender_report is None and self._first is None:
            self._first = (time.time() if arrival is None else arrival, extended)
        wall, reference = self._sender_report or self._first or (0.0, 0)
        return wall + (extended - reference) / self.clock_rate


class MeetingClock:
    """The streams of one meeting by SSRC, all on one clock."""

    def __init__(self) -> None:
        self.streams: dict[int, StreamClock] = {}
        self._early: dict[int, tuple[int, int]] = {}   # Sender Reports of streams not seen yet

    def stream(self, ssrc: int, clock_rate: int) -> StreamClock:
        clock = self.streams.get(ssrc)
        if clock is None:
            clock = self.streams[ssrc] = StreamClock(clock_rate)
            if ssrc in self._early:
                clock.sender_report(*self._early.pop(ssrc))
        return clock

    def sender_report(self, ssrc: int, ntp_timestamp: int, rtp_timestamp: int) -> None:
        clock = self.streams.get(ssrc)
        if clock is not None:
            clock.sender_report(ntp_timestamp, rtp_timestamp)
        else:
            self._early[ssrc] = (ntp_timestamp, rtp_timestamp)

    def seconds(self, ssrc: int, clock_rate: int, rtp_timestamp: int, arrival: float | None = None) -> float:
        return self.stream(ssrc, clock_rate).seconds(rtp_timestamp, arrival)
