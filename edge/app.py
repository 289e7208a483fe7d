"""``create_app(settings)``: the edge as a Litestar application.

The lifespan connects to NATS and starts the heartbeat inside one ``AsyncExitStack``; on
shutdown the edge stops heartbeating and says goodbye, then drains NATS.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar import Litestar

from nodes import subjects
from nodes.bus import Bus

from .health import healthz, readyz
from .heartbeat import Heartbeat
from .settings import Settings


@dataclass
class Node:
    settings: Settings
    bus: Bus
    heartbeat: Heartbeat


def create_app(settings: Settings) -> Litestar:
    subjects.token(settings.edge_id)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            bus = Bus(settings.nats, name=f"edge-{settings.edge_id}")
            stack.push_async_callback(bus.close)
            hb = Heartbeat(bus, edge_id=settings.edge_id, region=settings.region,
                           public_url=settings.public_url, interval=settings.heartbeat.interval)
            stack.push_async_callback(hb.stop)
            app.state.node = Node(settings=settings, bus=bus, heartbeat=hb)
            bus.on_connect(lambda _bus: hb.beat())  # announce at once, not one interval later
            await bus.start()
            hb.start()
            yield

    return Litestar(route_handlers=[healthz, readyz], lifespan=[lifespan], openapi_config=None)
