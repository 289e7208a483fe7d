"""Proactive re-homing: when an edge leaves the registry, its meetings move at once.

An edge that heartbeats as a new instance (``started_at`` changed: a killed worker its supervisor
started again within the registry's TTL) counts as having left: its participants failed over to
their alternates meanwhile, so its meetings move off it as well, to where they went.

Registered with :meth:`EdgeRegistry.on_edge_left`. For every meeting with someone in its roster
— those with participants on the departed edge first — the placement entry is repaired
(:meth:`PlacementService.rehome`): the departed edge's sites are taken over by the first
available edge of their region in the meeting's rendezvous order (the alternate its clients try
first), and a home on it moves there with ``epoch + 1`` — or to a live site of another region.
A meeting that only an edge outside its sites could take keeps its entry: the next join moves it.
So commands and new joins follow the meeting to where its participants reconnect, within the
registry's TTL (~6 s) of an edge's death, without waiting for someone to join.

While this control plane is cut off from NATS it sees every edge leave and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nodes.bus import Bus

from .service import PlacementService

log = logging.getLogger(__name__)

#: The meetings worth re-homing after edge ``<id>`` left, most urgent first.
Candidates = Callable[[str], Awaitable[list[str]]]


class Rehomer:
    def __init__(self, placement: PlacementService, bus: Bus, candidates: Candidates) -> None:
        self.placement, self.bus, self.candidates = placement, bus, candidates
        self.moved = 0
        self._pending: set[asyncio.Task[None]] = set()

    def edge_left(self, edge_id: str, why: str) -> None:
        """Registry listener."""
        if not self.bus.connected or not self.placement.ready:
            return
        task = asyncio.get_running_loop().create_task(self.run(edge_id), name=f"rehome-{edge_id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def run(self, edge_id: str) -> list[str]:
        """Re-home the meetings of *edge_id*; returns the ids of those whose entry changed."""
        started = time.monotonic()
        changed: list[str] = []
        for meeting_id in await self.candidates(edge_id):
            try:
                if await self.placement.rehome(meeting_id, edge_id) is not None:
                    changed.append(meeting_id)
            except Exception as exc:  # noqa: BLE001 - the next join repairs it
                log.warning("meeting not re-homed", extra={"meeting_id": meeting_id, "edge_id": edge_id,
                                                           "error": repr(exc)})
        self.moved += len(changed)
        log.info("meetings of a departed edge re-homed",
                 extra={"edge_id": edge_id, "meetings": changed, "took_s": round(time.monotonic() - started, 3)})
        return changed

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
