"""The edge's announcement of itself: :class:`nodes.wire.EdgeHeartbeat` every ``interval``.

The load figures come from a callable (the SFU's counters); CPU is this process's CPU time since
the previous heartbeat, as a percentage of one core. On an orderly stop the edge says
:class:`nodes.wire.EdgeGone` so the registry drops it at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from nodes import __version__, subjects, wire
from nodes.bus import Bus

log = logging.getLogger(__name__)


class LoadSnapshot:
    __slots__ = ("meetings", "participants", "tracks", "streams")

    def __init__(self, meetings: int = 0, participants: int = 0, tracks: int = 0, streams: int = 0) -> None:
        self.meetings, self.participants, self.tracks, self.streams = meetings, participants, tracks, streams


class Heartbeat:
    def __init__(self, bus: Bus, *, edge_id: str, region: str, public_url: str, interval: float,
                 load: Callable[[], LoadSnapshot] = LoadSnapshot, machine: str = "") -> None:
        self.bus = bus
        self.machine = machine
        self.edge_id, self.region, self.public_url = edge_id, region, public_url
        self.interval = interval
        self.load = load
        self.draining = False
        self.started_at = time.time()
        self._seq = 0
        self._cpu = (time.process_time(), time.monotonic())
        self._task: asyncio.Task[None] | None = None
        self.subject = subjects.edge_heartbeat(edge_id)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="heartbeat")

    def cpu_pct(self) -> float:
        cpu, wall = time.process_time(), time.monotonic()
        prev_cpu, prev_wall = self._cpu
        self._cpu = (cpu, wall)
        return round(100.0 * (cpu - prev_cpu) / max(wall - prev_wall, 1e-6), 2)

    def message(self) -> wire.EdgeHeartbeat:
        self._seq += 1
        snap = self.load()
        return wire.EdgeHeartbeat(
            edge_id=self.edge_id, region=self.region, public_url=self.public_url, seq=self._seq,
            started_at=self.started_at, meetings=snap.meetings, participants=snap.participants,
            tracks=snap.tracks, cpu_pct=self.cpu_pct(), draining=self.draining, version=__version__,
            interval=self.interval, machine=self.machine, streams=snap.streams,
        )

    async def beat(self) -> None:
        if self.bus.connected:
            await self.bus.nc.publish(self.subject, wire.encode(self.message()))

    async def _loop(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried next interval
                log.warning("heartbeat failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop beating and say goodbye (best effort: NATS may already be gone)."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.bus.connected:
            try:
                await self.bus.nc.publish(subjects.edge_gone(self.edge_id),
                                          wire.encode(wire.EdgeGone(edge_id=self.edge_id, region=self.region)))
                await self.bus.nc.flush(timeout=1)
            except Exception as exc:  # noqa: BLE001
                log.warning("goodbye not sent", extra={"error": repr(exc)})
