"""The breakout rooms' clock: a set whose timer ran out closes (everyone comes back), and the rooms
of a closed set end once the time to come back (``room_grace``) is over.

One task sleeps until the next of those moments (at most ``max_wait``), or until the service
wakes it (a set opened or closed). Everything it does is read from the database, so a restarted
control plane picks up where the last one stopped; control planes side by side may both look —
closing a set is a compare-and-set (:func:`.repository.close_set`), ending a room is harmless twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..db import DatabaseUnavailable
from . import repository as repo
from .service import BreakoutService

log = logging.getLogger(__name__)


class BreakoutTimer:
    def __init__(self, service: BreakoutService, *, max_wait: float = 30.0) -> None:
        self.service = service
        self.max_wait = max_wait
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        service.wake = self._wake.set

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="breakout-timer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def tick(self) -> float | None:
        """Close the sets that are due and end the rooms whose time to come back is over; returns
        when the next of those is due (Unix seconds), or None when nothing waits."""
        s, now = self.service, time.time()
        for found in await repo.due_sets(s.db, now):
            await s.close_set(found, "timer")
        ended = [r["room_id"] for r in await repo.rooms_to_end(s.db, now - s.room_grace)]
        if ended:
            await s.end_rooms(ended)
        due, closed = await repo.next_due(s.db), await repo.next_room_end(s.db)
        times = [t for t in (due, closed + s.room_grace if closed is not None else None) if t is not None]
        return min(times) if times else None

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            wait = self.max_wait
            try:
                next_at = await self.tick()
                if next_at is not None:
                    wait = min(max(next_at - time.time(), 0.05), self.max_wait)
            except DatabaseUnavailable as exc:
                log.warning("breakout timer: database unavailable", extra={"error": str(exc)})
            except Exception:  # noqa: BLE001 - keep the clock running
                log.exception("breakout timer failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
