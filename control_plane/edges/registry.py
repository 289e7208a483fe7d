"""The control plane's live view of edges, built from their heartbeats.

Every edge publishes :class:`nodes.wire.EdgeHeartbeat` on ``cc.edge.<id>.heartbeat`` every ~2 s.
An edge is live while its last heartbeat is at most ``ttl`` seconds old (three heartbeats); a
sweeper drops the rest, so an edge killed with SIGKILL leaves within ``ttl + sweep_interval``. An
edge that stops in order says :class:`nodes.wire.EdgeGone` and leaves at once. Listeners hear of
every edge that leaves (placement re-homes its meetings).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from nodes import subjects, wire
from nodes.bus import Bus

log = logging.getLogger(__name__)

#: Points of CPU within which two edges count as equally busy when ranked by load.
CPU_STEP = 10.0


@dataclass
class LiveEdge:
    heartbeat: wire.EdgeHeartbeat
    last_seen: float  # monotonic

    @property
    def load(self) -> float:
        """A single figure to rank edges by: CPU first, in steps of :data:`CPU_STEP` points (a
        difference within one step is noise, as between idle workers of one machine), then
        participants and tracks: meetings started on idle edges spread evenly over them."""
        hb = self.heartbeat
        return (hb.cpu_pct // CPU_STEP) * CPU_STEP + hb.participants * 0.5 + hb.tracks * 0.1


class EdgeRegistry:
    def __init__(self, ttl: float = 6.0, sweep_interval: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.sweep_interval = sweep_interval
        self._clock = clock
        self._edges: dict[str, LiveEdge] = {}
        self._left: list[Callable[[str, str], None]] = []
        self._task: asyncio.Task[None] | None = None

    # -- feed -----------------------------------------------------------------------------------
    async def attach(self, bus: Bus) -> None:
        """Subscribe to heartbeats and goodbyes (a :meth:`Bus.on_connect` hook)."""
        await bus.nc.subscribe(subjects.ALL_EDGE_HEARTBEATS, cb=self._on_msg)
        await bus.nc.subscribe(subjects.ALL_EDGE_GONE, cb=self._on_msg)

    async def _on_msg(self, msg) -> None:  # noqa: ANN001 - nats Msg
        try:
            decoded = wire.registry_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            log.warning("bad registry message", extra={"subject": msg.subject, "error": str(exc)})
            return
        # The subject names the sender; a message claiming another edge's id is ignored.
        sender = msg.subject.split(".")[2]
        if decoded.edge_id != sender:
            log.warning("registry message for another edge", extra={"subject": msg.subject})
            return
        match decoded:
            case wire.EdgeHeartbeat():
                self.observe(decoded)
            case wire.EdgeGone():
                self.remove(decoded.edge_id, "gone")

    def observe(self, hb: wire.EdgeHeartbeat) -> None:
        known = self._edges.get(hb.edge_id)
        if known is None:
            log.info("edge joined", extra={"edge_id": hb.edge_id, "region": hb.region, "url": hb.public_url})
        self._edges[hb.edge_id] = LiveEdge(hb, self._clock())
        if known is not None and hb.started_at and known.heartbeat.started_at not in (0.0, hb.started_at):
            # Started again before the TTL dropped it (a killed worker its supervisor restarted):
            # the old instance's participants and meetings are gone as if it had left.
            log.info("edge restarted", extra={"edge_id": hb.edge_id, "was_started_at": known.heartbeat.started_at,
                                              "started_at": hb.started_at})
            self._tell_left(hb.edge_id, "restarted")

    def remove(self, edge_id: str, why: str) -> None:
        edge = self._edges.pop(edge_id, None)
        if edge is None:
            return
        log.info("edge left", extra={"edge_id": edge_id, "why": why})
        self._tell_left(edge_id, why)

    def _tell_left(self, edge_id: str, why: str) -> None:
        for cb in list(self._left):
            try:
                cb(edge_id, why)
            except Exception:  # noqa: BLE001
                log.exception("edge-left listener failed")

    def on_edge_left(self, cb: Callable[[str, str], None]) -> None:
        self._left.append(cb)

    # -- sweeping -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sweep_loop(), name="edge-sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            self.sweep()

    def sweep(self) -> None:
        now = self._clock()
        for edge_id, edge in list(self._edges.items()):
            if now - edge.last_seen > self.ttl:
                self.remove(edge_id, "expired")

    # -- queries --------------------------------------------------------------------------------
    def live(self) -> list[LiveEdge]:
        now = self._clock()
        return sorted((e for e in self._edges.values() if now - e.last_seen <= self.ttl),
                      key=lambda e: e.heartbeat.edge_id)

    def get(self, edge_id: str) -> LiveEdge | None:
        edge = self._edges.get(edge_id)
        if edge is None or self._clock() - edge.last_seen > self.ttl:
            return None
        return edge

    def least_loaded(self, region: str | None = None) -> LiveEdge | None:
        """The live, non-draining edge with the lowest load, preferring *region*."""
        candidates = [e for e in self.live() if not e.heartbeat.draining]
        if region is not None:
            local = [e for e in candidates if e.heartbeat.region == region]
            candidates = local or candidates
        return min(candidates, key=lambda e: (e.load, e.heartbeat.edge_id), default=None)
