"""The recorder service as an ASGI app: health endpoints, and the NATS service in its lifespan.

``python -m recorder --config FILE`` serves it with the shared runner (:mod:`nodes.runner`:
uvloop, SIGTERM drain, sd_notify). Nothing is read at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.response import Response

from nodes.bus import Bus

from .metrics import RecorderMetrics, metrics_endpoint
from .service import RecorderService
from .settings import Settings


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, sync_to_thread=False)
def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    service: RecorderService | None = getattr(request.app.state, "recorder", None)
    ok = bool(service and service.bus.connected and service._subs)
    body: dict[str, Any] = {"status": "ready" if ok else "not ready",
                            "checks": {"nats": bool(service and service.bus.connected)},
                            "recordings": sorted(service.jobs) if service else []}
    return Response(body, status_code=200 if ok else 503)


def create_app(settings: Settings) -> Litestar:
    metrics = RecorderMetrics(settings.metrics, settings.recorder_id)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            bus = Bus(settings.nats, name=settings.recorder_id)
            stack.push_async_callback(bus.close)
            service = RecorderService(bus, settings)
            stack.push_async_callback(service.close)   # before the bus closes: jobs leave their meetings
            bus.on_connect(service.attach)
            app.state.recorder = service
            metrics.service = service
            await metrics.metrics.start()
            stack.push_async_callback(metrics.metrics.stop)
            await bus.start()
            yield

    return Litestar(route_handlers=[healthz, readyz, metrics_endpoint], lifespan=[lifespan],
                    state=State({"metrics": metrics.metrics}), debug=False, logging_config=None)
