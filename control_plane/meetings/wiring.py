"""Builds the meetings, tokens, placement, commands and events services inside the app's lifespan."""

from __future__ import annotations

import contextlib

from ..events import repository as roster
from ..events.consumer import EventConsumer
from ..placement.choose import Capacity
from ..placement.regions import RegionMap
from ..placement.rehome import Rehomer
from ..placement.service import PlacementService
from ..recordings.endpoint import RecorderReports
from ..recordings.service import RecordingService
from ..services import Services
from ..tokens.bus import JwksResponder
from ..tokens.keys import KeyStore
from ..tokens.service import TokenService
from .commands import CommandService
from .join import JoinService
from .lifecycle import Lifecycle
from .service import MeetingService


async def start_meetings(stack: contextlib.AsyncExitStack, services: Services) -> None:
    """Fill in *services* and register what must stop on shutdown (before the bus closes)."""
    settings, bus, db = services.settings, services.bus, services.db
    keys = KeyStore(settings.keys.dir)
    services.tokens = TokenService(keys, issuer=settings.tokens.issuer or settings.public_url,
                                   ttl_minutes=settings.tokens.ttl_minutes)
    jwks = JwksResponder(keys)
    bus.on_connect(jwks.attach)
    stack.push_async_callback(jwks.stop)

    services.placement = PlacementService(services.edges, capacity=Capacity(
        cpu_pct=settings.placement.busy_cpu_pct, streams=settings.placement.busy_streams))
    bus.on_connect(services.placement.attach)
    services.meetings = MeetingService(db, settings.meetings, public_url=settings.public_url)
    services.joins = JoinService(services.meetings, services.tokens, services.placement,
                                 RegionMap(settings.placement.regions, settings.default_region))
    services.commands = CommandService(bus, services.placement, services.meetings,
                                       timeout=settings.meetings.command_timeout)

    services.events = EventConsumer(db, services.placement, region_domains=settings.events.region_domains,
                                    placement_wait=settings.events.placement_wait)
    bus.on_connect(services.events.attach)
    stack.push_async_callback(services.events.stop)

    lifecycle = Lifecycle(db, services.meetings, services.commands, bus, services.edges,
                          empty_timeout=settings.meetings.empty_timeout, interval=settings.meetings.sweep_interval)
    services.edges.on_edge_left(lifecycle.edge_left)
    rehomer = Rehomer(services.placement, bus, lambda edge_id: roster.meetings_to_rehome(db, edge_id))
    services.edges.on_edge_left(rehomer.edge_left)
    stack.push_async_callback(rehomer.stop)
    services.extra["rehomer"] = rehomer
    services.recordings = RecordingService(bus, services.meetings, services.placement, services.edges,
                                           services.tokens, settings.recordings)
    services.events.on_applied(services.recordings.on_event)
    reports = RecorderReports(services.recordings)
    bus.on_connect(reports.attach)
    stack.push_async_callback(reports.stop)
    services.recordings.start_sweeper()
    stack.push_async_callback(services.recordings.stop_sweeper)
    lifecycle.start()
    stack.push_async_callback(lifecycle.stop)
    services.extra["lifecycle"] = lifecycle
