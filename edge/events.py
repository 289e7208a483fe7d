"""Events to JetStream through an outbox that retries until each one is acknowledged.

The conference layer hands events to :meth:`EventOutbox.put`, which never blocks. One pump task
publishes them in order to ``cc.evt.<edge>.<meeting>.<kind>`` (stream ``CC_EVENTS``) with the header
``Nats-Msg-Id: <event_id>``, waits for the stream's ack, and retries the same event — with the
same id, so JetStream stores it once — until it is acked: through a NATS outage, or while the
stream does not exist yet. The outbox is bounded (``events.outbox_limit``): when it is full the
oldest event is dropped and an error is logged (never silently). On an orderly stop,
:meth:`EventOutbox.close` spends up to ``events.flush_timeout`` publishing what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from nodes import subjects, wire
from nodes.bus import Bus

from .settings import EventsSettings

log = logging.getLogger(__name__)


class EventOutbox:
    def __init__(self, bus: Bus, settings: EventsSettings) -> None:
        self.bus = bus
        self.settings = settings
        self._queue: deque[wire._Evt] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.dropped = 0
        self.retries = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def put(self, event: wire._Evt) -> None:
        if len(self._queue) >= self.settings.outbox_limit:
            lost = self._queue.popleft()
            self.dropped += 1
            log.error("event outbox full: oldest event dropped",
                      extra={"event_id": lost.event_id, "type": type(lost).__name__, "meeting": lost.meeting_id,
                             "dropped_total": self.dropped})
        self._queue.append(event)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="event-outbox")

    async def _publish(self, event: wire._Evt) -> None:
        subject = subjects.event(event.edge_id, event.meeting_id, wire.EVENT_KIND[type(event)])
        await self.bus.js.publish(subject, wire.encode(event), timeout=self.settings.publish_timeout,
                                  headers={"Nats-Msg-Id": event.event_id})

    async def _pump(self) -> None:
        delay = 0.1
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.bus.connected:
                await asyncio.sleep(0.1)
                continue
            event = self._queue[0]
            try:
                await self._publish(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried with the same Nats-Msg-Id
                self.retries += 1
                log.warning("event not acknowledged yet, retrying",
                            extra={"event_id": event.event_id, "error": repr(exc), "pending": len(self._queue)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.1
            if self._queue and self._queue[0] is event:
                self._queue.popleft()
            self.published += 1

    async def close(self) -> None:
        """Publish what is left (up to ``flush_timeout``), then stop; log whatever could not go."""
        if self._task is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.flush_timeout
        while self._queue and loop.time() < deadline and not self._task.done():
            await asyncio.sleep(0.05)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._queue:
            log.error("events not published before stopping",
                      extra={"count": len(self._queue), "event_ids": [e.event_id for e in self._queue][:50]})
