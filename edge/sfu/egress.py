"""A subscriber's way out: its send path, its bounded queue and what is dropped when it is full.

Every packet a subscriber receives goes through its :class:`Egress`. In the common case — the
subscribe PC is connected, nothing is queued, no bitrate cap — the packet is rewritten by its
:class:`~edge.sfu.downtrack.DownTrack`, SRTP-protected and written to the UDP socket at once,
synchronously, inside the loop that fans one incoming packet out to all subscribers.

A subscriber that cannot take packets that fast — its downlink cap
(:meth:`~edge.sfu.room.Room.set_subscriber_bitrate`) is lower than what it is sent, or its
socket pushes back — gets a queue of at most ``SfuConfig.subscriber_queue`` packets. When the
queue is full the oldest packet is dropped; a video stream that lost a packet then skips
everything up to the next keyframe (which is requested), so the subscriber's decoder sees whole
frames and one sequence without gaps rather than a burst of NACKs. Only that subscriber's
queue grows and only its packets are dropped: the fan-out loop never waits for anyone.

Packets arriving while the subscribe PC is not connected are not queued (they would be stale
when it connects); video then starts at a keyframe requested when the path opens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aiortc_hooks import SendPath
    from .downtrack import DownTrack
    from .forwarder import Media

log = logging.getLogger(__name__)

HOUSEKEEPING = 0.5  # seconds between sender-report refreshes
RETRY = 0.005  # seconds before retrying a socket that pushed back


class Egress:
    """One subscriber's outbound packets."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("subscriber_queue must be at least 1")
        self.limit = limit
        self.queue: deque[tuple[DownTrack, Media]] = deque()
        self.downtracks: list[DownTrack] = []
        self._protect: Callable[[bytes], bytes] | None = None
        self._sendto: Callable[[bytes, Any], None] | None = None
        self._addr: tuple[str, int] | None = None
        self._backlog: Callable[[], int] | None = None
        self._rate: float | None = None  # bytes per second
        self._tokens = 0.0
        self._refilled = 0.0
        self._blocked = False  # the socket pushed back
        self._direct = False  # connected, no cap, not blocked: send without queueing
        self._timer: asyncio.TimerHandle | None = None
        self._housekeeping: asyncio.TimerHandle | None = None
        self.sent_packets = 0
        self.sent_bytes = 0
        #: Dropped because the queue was full.
        self.dropped = 0
        #: Not sent because the subscribe PC was not connected.
        self.unsent = 0
        self.max_depth = 0
        #: Padding packets sent to probe the downlink.
        self.padding_packets = 0
        #: Packets that could not be protected or sent.
        self.errors = 0
        #: When the subscriber joined (monotonic), and whether its first video packet went out.
        self.created = time.monotonic()
        self.first_video_sent = False
        #: Told the seconds from joining to the first video packet (once; see SfuConfig.on_first_frame).
        self.on_first_video: Callable[[float], None] | None = None
        # what the down tracks that stopped sent: packets and payload bytes by kind, layer switches
        self._retired_packets: dict[str, int] = {}
        self._retired_bytes: dict[str, int] = {}
        self._retired_switches = 0

    @property
    def connected(self) -> bool:
        return self._protect is not None

    # --- configuration ---

    def open(self, path: SendPath) -> None:
        """The subscribe PC connected: send on *path*; video starts at a keyframe."""
        self._protect, self._sendto, self._addr, self._backlog = path.protect, path.sendto, path.addr, path.backlog
        self._blocked = False
        self._update()
        for dt in self.downtracks:
            if dt.video:
                dt.wait_for_keyframe()
                dt.request_keyframe()
        if self._housekeeping is None:
            self._housekeeping = asyncio.get_running_loop().call_later(HOUSEKEEPING, self._tick)

    def shut(self) -> None:
        """The subscribe PC is gone or disconnected: stop sending, forget the queue."""
        self._protect = self._sendto = self._addr = self._backlog = None
        self._update()
        self.unsent += len(self.queue)
        self.queue.clear()
        for handle in (self._timer, self._housekeeping):
            if handle is not None:
                handle.cancel()
        self._timer = self._housekeeping = None

    def set_rate(self, bits_per_second: int | None) -> None:
        if bits_per_second is not None and bits_per_second <= 0:
            raise ValueError("a bitrate cap must be positive (or None for no cap)")
        self._rate = None if bits_per_second is None else bits_per_second / 8
        self._tokens = self._burst()
        self._refilled = time.monotonic()
        self._update()
        self._schedule(0)

    def _update(self) -> None:
        self._direct = self._protect is not None and self._rate is None and not self._blocked

    def _burst(self) -> float:
        return 0.0 if self._rate is None else max(self._rate * 0.02, 1500.0)

    # --- sending ---

    def push(self, dt: DownTrack, m: Media) -> None:
        """Send (or queue) one forwarded packet for *dt*."""
        if self._direct and not self.queue:
            data = dt.emit(m)
            if data is not None:
                try:
                    self._sendto(self._protect(data), self._addr)  # type: ignore[misc]  # _direct: all set
                except Exception as exc:  # noqa: BLE001 — one bad packet must not stop the others
                    self._failed(exc)
                    return
                self.sent_packets += 1
                self.sent_bytes += len(data)
            return
        if self._protect is None:
            self.unsent += 1
            return
        q = self.queue
        q.append((dt, m))
        if len(q) > self.limit:
            old, _ = q.popleft()
            self.dropped += 1
            old.lost()
        if len(q) > self.max_depth:
            self.max_depth = len(q)
        if self._timer is None:
            self._flush()

    def send_now(self, data: bytes, *, padding: bool = False) -> None:
        """Send an already rewritten packet (a retransmission, or *padding* that probes the
        downlink, :mod:`edge.sfu.probe`, counted apart from media) ahead of the queue."""
        if self._protect is None:
            return
        try:
            self._sendto(self._protect(data), self._addr)  # type: ignore[misc]  # set with _protect
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return
        if padding:
            self.padding_packets += 1
        else:
            self.sent_packets += 1
            self.sent_bytes += len(data)
        if self._rate is not None:
            self._tokens -= len(data)

    def _flush(self) -> None:
        self._timer = None
        q = self.queue
        if self._rate is not None:
            now = time.monotonic()
            self._tokens = min(self._burst(), self._tokens + (now - self._refilled) * self._rate)
            self._refilled = now
        while q and self._protect is not None:
            if self._rate is not None and self._tokens <= 0:
                self._schedule(-self._tokens / self._rate)
                return
            if self._backlog():  # type: ignore[misc]  # set with _protect
                self._blocked, self._direct = True, False
                self._schedule(RETRY)
                return
            dt, m = q.popleft()
            data = dt.emit(m)
            if data is None:
                continue
            try:
                self._sendto(self._protect(data), self._addr)  # type: ignore[misc]  # set with _protect
            except Exception as exc:  # noqa: BLE001
                self._failed(exc)
                continue
            self.sent_packets += 1
            self.sent_bytes += len(data)
            if self._rate is not None:
                self._tokens -= len(data)
        if self._blocked and self._backlog is not None and not self._backlog():
            self._blocked = False
            self._update()

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("could not send a packet (%d so far): %s", self.errors, exc)

    def _schedule(self, delay: float) -> None:
        if self._timer is None and self.queue:
            self._timer = asyncio.get_running_loop().call_later(max(delay, 0.001), self._flush)

    def _tick(self) -> None:
        self._housekeeping = asyncio.get_running_loop().call_later(HOUSEKEEPING, self._tick)
        now = time.monotonic()
        for dt in self.downtracks:
            dt.report(now)
        if self._backlog is not None and self._backlog() and not self._blocked:
            # the socket pushes back: route packets through the queue until it drains
            self._blocked, self._direct = True, False
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(RETRY, self._flush)

    def first_video(self, published: float, now: float) -> None:
        """The first video packet to this subscriber is going out (a track published at *published*)."""
        self.first_video_sent = True
        if self.on_first_video is not None:
            try:
                self.on_first_video(max(now - max(self.created, published), 0.0))
            except Exception:  # noqa: BLE001 - a figure must never stop the media
                log.exception("first-frame hook failed")

    def retire(self, dt: DownTrack) -> None:
        """*dt* stops sending: keep what it sent in this subscriber's totals."""
        packets, octets, switches = dt.counted
        self._retired_packets[dt.kind] = self._retired_packets.get(dt.kind, 0) + dt.packets - packets
        self._retired_bytes[dt.kind] = self._retired_bytes.get(dt.kind, 0) + dt.octets - octets
        self._retired_switches += dt.switches - switches
        dt.counted = (dt.packets, dt.octets, dt.switches)

    def by_kind(self) -> tuple[dict[str, int], dict[str, int], int]:
        """(packets by kind, payload bytes by kind, layer switches) sent so far, read at scrape time."""
        packets, octets = dict(self._retired_packets), dict(self._retired_bytes)
        switches = self._retired_switches
        for dt in self.downtracks:
            p, o, s = dt.counted
            packets[dt.kind] = packets.get(dt.kind, 0) + dt.packets - p
            octets[dt.kind] = octets.get(dt.kind, 0) + dt.octets - o
            switches += dt.switches - s
        return packets, octets, switches

    def forget(self, dt: DownTrack) -> None:
        """*dt* stops: drop what it still has queued."""
        if any(queued is dt for queued, _ in self.queue):
            self.queue = deque(item for item in self.queue if item[0] is not dt)

    def close(self) -> None:
        self.shut()
        for dt in self.downtracks:
            self.retire(dt)
        self.downtracks.clear()
