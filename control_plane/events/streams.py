"""The events streams of a hub-and-leaf layout, declared by the control plane.

Edges publish events into the JetStream of the NATS server they are connected to. An edge on a
regional leaf node (its own JetStream domain) therefore stores its events in that region's
``CC_EVENTS``, which keeps accepting them while the region's link to the hub is down. The hub's
``CC_EVENTS`` — the one the control plane reads — sources every region's stream and catches up,
once per event, when a link heals.

With ``events.region_domains`` empty (a single NATS server, or edges all on the hub) this is just
:func:`nodes.streams.ensure_events_stream`. Otherwise the hub stream is declared (or updated)
with one source per region, and each region's stream is declared through its domain's API
(``$JS.<domain>.API``); a region that cannot be reached is retried in the background, so one cut
link never holds up the rest.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from nats.js.api import ExternalStream, StreamSource
from nats.js.errors import NotFoundError

from nodes import streams, subjects
from nodes.bus import Bus

log = logging.getLogger(__name__)


def _source(domain: str) -> StreamSource:
    return StreamSource(name=subjects.EVENTS_STREAM, external=ExternalStream(api=f"$JS.{domain}.API"))


async def ensure_hub_stream(js: JetStreamContext, domains: list[str]) -> None:
    """The stream the control plane reads, sourcing each region's stream."""
    if not domains:
        await streams.ensure_events_stream(js)
        return
    config = streams.events_stream_config()
    config.sources = [_source(d) for d in domains]
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("events stream created", extra={"sources": domains})
        return
    have = sorted((s.external.api if s.external else "") for s in (info.config.sources or []))
    if have != sorted(s.external.api for s in config.sources):
        await js.update_stream(config)
        log.info("events stream sources updated", extra={"sources": domains})


class RegionStreams:
    """Declares ``CC_EVENTS`` in every region's domain, retrying unreachable ones."""

    def __init__(self, domains: list[str], *, retry: float = 5.0, timeout: float = 2.0) -> None:
        self.domains = list(domains)
        self.retry = retry
        self.timeout = timeout
        self.declared: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self, bus: Bus) -> None:
        if self.domains and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(bus), name="region-event-streams")

    async def _run(self, bus: Bus) -> None:
        while True:
            for domain in self.domains:
                if domain in self.declared:
                    continue
                try:
                    js = bus.nc.jetstream(domain=domain, timeout=self.timeout)
                    await streams.ensure_events_stream(js)
                    self.declared.add(domain)
                    log.info("region events stream ready", extra={"domain": domain})
                except Exception as exc:  # noqa: BLE001 - region unreachable: try again later
                    log.warning("region events stream not declared", extra={"domain": domain, "error": repr(exc)})
            if len(self.declared) == len(self.domains):
                return
            await asyncio.sleep(self.retry)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
