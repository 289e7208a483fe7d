"""Taking events in from JetStream and delivering them to each endpoint, at least once.

**Taking in.** A durable pull consumer ``webhooks`` on ``CC_EVENTS`` (beside the control plane's
own ``control-plane``, so delivery never holds up applying events) reads the edges' events. An
event is sent only once the control plane has applied it — it came from an edge its meeting is
placed on (``applied_events``); until then it is asked for again, and one never applied within
``events.placement_wait`` and a minute is dropped. A meeting's start and end are sent once, for
the edge whose event started or ended it (with cascading, every edge of the meeting reports both).
For each endpoint that wants its type a row is written to ``webhook_deliveries`` (the endpoint's
persisted queue), and only then is the message acknowledged: a control plane stopped at any
point takes the event in again, or finds the rows.
A meeting the control plane ends itself (through the API, or empty too long: its edges may have
closed it already and report nothing) and a finished recording are queued the same way, by the
control plane that marks them ended.

**Delivering.** One task per endpoint POSTs its due rows, oldest first, with a time limit on each
attempt: an endpoint that hangs or fails delays only its own queue. A 2xx answer is delivered;
anything else (another status, a timeout, a refused connection) is tried again after
``backoff_base`` × 2ⁿ seconds (at most ``backoff_max``, plus up to 20 % jitter) until
``max_attempts``, then the row is ``failed``. Every attempt carries the same ``webhook-id`` and a
fresh timestamp and signature (:mod:`.signing`).

Control planes side by side on one PostgreSQL: the one holding the database's ``webhooks`` lock
reads the consumer and delivers (:meth:`~control_plane.db.Database.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable

import httpx
import msgspec
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from nodes import subjects, wire
from nodes.bus import Bus

from ..db import Database
from ..events.authority import EventAuthority
from ..events.reader import read_as_leader
from . import payloads, signing
from .repository import DeliveryRepository
from .settings import WebhookEndpointSettings, WebhookSettings

log = logging.getLogger(__name__)

#: The durable consumer of ``CC_EVENTS`` that webhook delivery reads.
CONSUMER = "webhooks"
#: Seconds before an event not yet applied by the control plane is asked for again.
NAK_DELAY = 0.5
#: Seconds between looks at the queue when nothing wakes a worker (another control plane may
#: have queued a delivery).
POLL = 2.0


class WebhookDispatcher:
    def __init__(self, db: Database, settings: WebhookSettings, *, apply_wait: float = 90.0) -> None:
        self.db = db
        self.settings = settings
        self.repo = DeliveryRepository(db)
        self.apply_wait = apply_wait
        self.endpoints = {e.name: e for e in settings.endpoints}
        self._wake = {name: asyncio.Event() for name in self.endpoints}
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._psub = None
        #: Messages queued and attempts made since start (for tests and logs).
        self.queued = 0
        self.attempts = 0

    # -- taking in ------------------------------------------------------------------------------
    async def attach(self, bus: Bus) -> None:
        """Bind the durable consumer and start reading (a Bus.on_connect hook, after the events
        consumer declared the stream). Without endpoints the consumer is removed, so one added
        later does not get the events of the meantime."""
        if self._consumer is not None and not self._consumer.done():
            return
        js = bus.js
        if not self.endpoints:
            with contextlib.suppress(NotFoundError, nats.errors.Error):
                await js.delete_consumer(subjects.EVENTS_STREAM, CONSUMER)
            return
        config = ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.NEW,
                                ack_wait=30.0, max_ack_pending=1024, filter_subject=subjects.ALL_EVENTS)
        self._psub = await js.pull_subscribe(subjects.ALL_EVENTS, durable=CONSUMER, stream=subjects.EVENTS_STREAM,
                                             config=config)
        self._consumer = asyncio.get_running_loop().create_task(self._read(self._psub), name="webhook-consumer")

    async def _read(self, psub) -> None:  # noqa: ANN001 - nats PullSubscription
        await read_as_leader(psub, self.db, "webhooks", self._take, what="the events stream for webhooks")

    async def _take(self, msg) -> None:  # noqa: ANN001 - nats Msg
        try:
            event = wire.event_decoder.decode(msg.data)
        except msgspec.DecodeError:
            await _settle(msg.ack())     # the events consumer reports it
            return
        message = payloads.of_event(event)
        targets = [e.name for e in self.endpoints.values() if message is not None and e.wants(message.type)]
        if message is None or not targets or EventAuthority.mismatch(msg.subject, event):
            await _settle(msg.ack())
            return
        try:
            applied = await self.repo.applied_event(event.event_id)
            if applied is None or applied["meeting_id"] != event.meeting_id \
                    or applied["kind"] != wire.EVENT_KIND[type(event)]:
                waited = (msg.metadata.num_delivered or 1) * NAK_DELAY
                if applied is None and waited < self.apply_wait:
                    await _settle(msg.nak(delay=NAK_DELAY))
                else:
                    log.info("event not sent to webhooks: the control plane did not apply it",
                             extra={"event_id": event.event_id, "meeting_id": event.meeting_id})
                    await _settle(msg.term())
                return
            if not await self._first_of_meeting(event):
                await _settle(msg.ack())
                return
            await self.enqueue(message, targets)
        except Exception as exc:  # noqa: BLE001 - the database is away: the event comes back
            log.warning("webhook event not queued", extra={"event_id": event.event_id, "error": repr(exc)})
            await _settle(msg.nak(delay=1.0))
            return
        await _settle(msg.ack())

    async def _first_of_meeting(self, event: wire.Event) -> bool:
        """Each edge of a meeting (cascading) reports it started and ended; the one that made it
        live, or ended it (its time is the meeting's ``started_at`` / ``ended_at``), is sent."""
        if not isinstance(event, wire.MeetingStarted | wire.MeetingEnded):
            return True
        row = await self.repo.meeting_times(event.meeting_id)
        column = "started_at" if isinstance(event, wire.MeetingStarted) else "ended_at"
        return row is not None and row[column] == event.at

    async def enqueue(self, message: payloads.Message, targets: list[str] | None = None) -> None:
        """Queue *message* for *targets* (default: every endpoint that wants its type)."""
        if targets is None:
            targets = [e.name for e in self.endpoints.values() if e.wants(message.type)]
        if not targets:
            return
        added = await self.repo.enqueue(message.webhook_id, message.type, message.meeting_id, message.body, targets,
                                        time.time())
        self.queued += added
        for name in targets:
            self._wake[name].set()

    async def meeting_ended(self, meeting_id: str, *, at: float, reason: str) -> None:
        """The control plane marked a meeting ended (:meth:`MeetingService.mark_ended`): queue
        ``meeting.ended`` unless an edge's event had ended it already (that event is sent)."""
        row = await self.repo.meeting_times(meeting_id)
        if row is not None and row["ended_at"] == at:
            await self.enqueue(payloads.meeting_ended(meeting_id, at=at, reason=reason))

    async def recording_ready(self, recording_id: str, meeting_id: str, *, state: str, reason: str, error: str,
                              started_at: float, stopped_at: float) -> None:
        """A recording is finished (its manifest final): queue ``recording.ready``."""
        await self.enqueue(payloads.recording_ready(recording_id, meeting_id, state=state, reason=reason, error=error,
                                                    started_at=started_at, stopped_at=stopped_at))

    # -- delivering -----------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for endpoint in self.endpoints.values():
            self._tasks.append(loop.create_task(self._worker(endpoint), name=f"webhook-{endpoint.name}"))
        if self.endpoints:  # without endpoints there is nothing to deliver, abandon or prune
            self._tasks.append(loop.create_task(self._housekeeping(), name="webhook-housekeeping"))

    async def _worker(self, endpoint: WebhookEndpointSettings) -> None:
        wake = self._wake[endpoint.name]
        async with httpx.AsyncClient(timeout=endpoint.timeout, follow_redirects=False, trust_env=False,
                                     headers={"user-agent": "curious-connect-webhooks"}) as client:
            while True:
                wake.clear()
                pause = POLL
                try:
                    if await self.db.leader("webhooks"):
                        for row in await self.repo.due(endpoint.name, time.time()):
                            await self._attempt(client, endpoint, row)
                        nxt = await self.repo.next_due(endpoint.name)
                        if nxt is not None:
                            pause = min(max(nxt - time.time(), 0.0), POLL)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the database is away: look again later
                    log.warning("webhook queue unreadable", extra={"endpoint": endpoint.name, "error": repr(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=pause)

    async def _attempt(self, client: httpx.AsyncClient, endpoint: WebhookEndpointSettings, row) -> None:  # noqa: ANN001
        body = row["body"].encode()
        status: int | None = None
        error = ""
        self.attempts += 1
        try:
            async with asyncio.timeout(endpoint.timeout):
                r = await client.post(endpoint.url, content=body,
                                      headers=signing.headers(endpoint.secret, row["webhook_id"], body))
            status = r.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except (TimeoutError, httpx.TimeoutException):
            error = f"timed out after {endpoint.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        now = time.time()
        if not error:
            await self.repo.delivered(endpoint.name, row["webhook_id"], now, status or 200)
            return
        attempts = row["attempts"] + 1
        if attempts >= self.settings.max_attempts:
            log.warning("webhook delivery failed", extra={"endpoint": endpoint.name, "webhook_id": row["webhook_id"],
                                                          "attempts": attempts, "error": error})
            await self.repo.attempt_failed(endpoint.name, row["webhook_id"], now, status, error, None)
            return
        delay = min(self.settings.backoff_base * 2 ** (attempts - 1), self.settings.backoff_max)
        delay *= 1 + random.uniform(0, 0.2)
        log.info("webhook attempt failed", extra={"endpoint": endpoint.name, "webhook_id": row["webhook_id"],
                                                  "attempt": attempts, "error": error, "retry_in": round(delay, 3)})
        await self.repo.attempt_failed(endpoint.name, row["webhook_id"], now, status, error, now + delay)

    async def _housekeeping(self) -> None:
        """Deliveries to endpoints no longer configured fail; old log entries go."""
        with contextlib.suppress(Exception):
            await self.repo.abandon_unknown(list(self.endpoints), time.time())
        while self.settings.log_days:
            try:
                await self.repo.prune(time.time() - self.settings.log_days * 86400)
            except Exception as exc:  # noqa: BLE001
                log.warning("webhook log not pruned", extra={"error": repr(exc)})
            await asyncio.sleep(3600)

    async def stop(self) -> None:
        tasks = [t for t in (self._consumer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._consumer, self._tasks = None, []
        if self._psub is not None:
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
            self._psub = None


async def _settle(call: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await call

