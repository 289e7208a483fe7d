"""Reading the events stream through the durable pull consumer ``control-plane``.

At connect the stream ``CC_EVENTS`` is declared (idempotent; with regional leaf domains, as a
stream sourcing theirs: :mod:`.streams`) and the consumer is created or bound. Messages are
fetched in batches and acknowledged explicitly, one by one, after their event
is applied; a failure to apply is answered with a delayed ``nak`` (the event comes back), and a
message that is not an event at all is terminated (it would never apply). Before it is applied,
an event must match its subject and come from an edge its meeting is placed on (:mod:`.authority`):
otherwise it is held back (``nak``) while placement may still catch up, or terminated and logged.
Because the consumer is durable, events published while the control plane was down are read when
it comes back. Control planes side by side on one PostgreSQL bind the same consumer, and the one
holding the database's ``events`` lock (:meth:`~control_plane.db.Database.leader`) reads it: each
event is applied once (``applied_events``, in the applying transaction) and in stream order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from nodes import subjects, wire
from nodes.bus import Bus

from ..db import Database, DatabaseUnavailable
from ..placement.service import PlacementService, PlacementUnavailable
from .apply import apply_event
from .authority import REFUSE, WAIT, EventAuthority
from .reader import read_as_leader
from .streams import RegionStreams, ensure_hub_stream

log = logging.getLogger(__name__)

Listener = Callable[[wire.Event], Awaitable[None]]


class EventConsumer:
    def __init__(self, db: Database, placement: PlacementService, *, region_domains: list[str] | None = None,
                 batch: int = 64, ack_wait: float = 30.0, placement_wait: float = 30.0) -> None:
        self.db = db
        self.authority = EventAuthority(placement, wait=placement_wait)
        self.refused = 0
        self.regions = RegionStreams(region_domains or [])
        self.batch = batch
        self.ack_wait = ack_wait
        self.applied = 0
        self.duplicates = 0
        #: Events read from the stream, by (kind, outcome): applied, duplicate, refused, held
        #: (back until placement names the edge), retried (the database failed) or unreadable.
        self.consumed: dict[tuple[str, str], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._psub = None
        self._listeners: list[Listener] = []

    def on_applied(self, listener: Listener) -> None:
        """Call *listener* after each newly applied event (not for duplicates)."""
        self._listeners.append(listener)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def attach(self, bus: Bus) -> None:
        """Declare the stream, bind the durable consumer and start reading (a Bus.on_connect hook)."""
        if self.running:
            return
        js = bus.js
        await ensure_hub_stream(js, self.regions.domains)
        self.regions.start(bus)
        config = ConsumerConfig(durable_name=subjects.EVENTS_CONSUMER, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait, max_ack_pending=1024,
                                filter_subject=subjects.ALL_EVENTS)
        psub = await js.pull_subscribe(subjects.ALL_EVENTS, durable=subjects.EVENTS_CONSUMER,
                                       stream=subjects.EVENTS_STREAM, config=config)
        self._psub = psub
        self._task = asyncio.get_running_loop().create_task(self._run(psub), name="event-consumer")

    async def _run(self, psub) -> None:  # noqa: ANN001 - nats PullSubscription
        # Control planes sharing a PostgreSQL read the stream one at a time (the one holding the
        # database's "events" lock), so events are applied in the order they were stored.
        await read_as_leader(psub, self.db, "events", self._handle, what="the events stream", batch=self.batch)

    async def _handle(self, msg) -> None:  # noqa: ANN001 - nats Msg
        try:
            event = wire.event_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            log.warning("not an event: dropped", extra={"subject": msg.subject, "error": str(exc)})
            with contextlib.suppress(Exception):
                await msg.term()
            self._count("unknown", "unreadable")
            return
        if not await self._authorised(msg, event):
            return
        try:
            fresh = await apply_event(self.db, event)
        except DatabaseUnavailable as exc:  # an outage: the event comes back when it is over
            log.warning("event not applied: database unavailable", extra={"event_id": event.event_id,
                                                                           "error": str(exc)})
            with contextlib.suppress(Exception):
                await msg.nak(delay=1.0)
            self._count(event, "retried")
            return
        except Exception:  # noqa: BLE001 - try again later; the event is not lost
            log.exception("event not applied", extra={"event_id": event.event_id, "subject": msg.subject})
            with contextlib.suppress(Exception):
                await msg.nak(delay=1.0)
            self._count(event, "retried")
            return
        with contextlib.suppress(Exception):
            await msg.ack()
        if not fresh:
            self.duplicates += 1
            self._count(event, "duplicate")
            return
        self.applied += 1
        self._count(event, "applied")
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:  # noqa: BLE001
                log.exception("event listener failed")

    async def _authorised(self, msg, event: wire.Event) -> bool:  # noqa: ANN001 - nats Msg
        """Whether *event* may be applied; if not, it is held back or terminated here."""
        reason = self.authority.mismatch(msg.subject, event)
        if not reason:
            try:
                verdict = await self.authority.judge(event)
            except PlacementUnavailable as exc:
                log.warning("event held back: placement unreadable", extra={"event_id": event.event_id,
                                                                             "error": str(exc)})
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
                self._count(event, "held")
                return False
            if verdict.outcome == WAIT:
                log.info("event held back until its meeting's placement names its edge",
                         extra={"meeting": event.meeting_id, "edge": event.edge_id, "event_id": event.event_id})
                with contextlib.suppress(Exception):
                    await msg.nak(delay=1.0)
                self._count(event, "held")
                return False
            if verdict.outcome != REFUSE:
                return True
            reason = verdict.reason
        self.refused += 1
        self._count(event, "refused")
        log.warning("event refused", extra={"meeting": event.meeting_id, "edge": event.edge_id,
                                            "kind": wire.EVENT_KIND[type(event)], "event_id": event.event_id,
                                            "subject": msg.subject, "reason": reason})
        with contextlib.suppress(Exception):
            await msg.term()
        return False

    def _count(self, event: wire.Event | str, outcome: str) -> None:
        kind = event if isinstance(event, str) else wire.EVENT_KIND.get(type(event), "unknown")
        self.consumed[(kind, outcome)] = self.consumed.get((kind, outcome), 0) + 1

    async def stop(self) -> None:
        await self.regions.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._psub is not None:
            # Unsubscribe (the durable consumer stays): a fetch reply that arrived after the
            # cancel would otherwise hold up the connection's drain until its timeout.
            with contextlib.suppress(Exception):
                await self._psub.unsubscribe()
            self._psub = None
