"""Liveness and readiness.

``/healthz`` looks at local state only (the process answers), so a NATS or database outage never
gets the process restarted. ``/readyz`` is 200 only while NATS is connected, the database
answers, the placement bucket is open and the event consumer runs; load balancers stop sending
traffic otherwise.
"""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response[dict]:
    services = getattr(request.app.state, "services", None)
    checks = {"nats": False, "database": False, "placement": False, "events": False}
    if services is not None:
        checks["nats"] = services.bus.connected
        checks["database"] = await services.db.ping()
        checks["placement"] = services.placement is not None and services.placement.ready
        checks["events"] = services.events is not None and services.events.running
    ok = all(checks.values())
    return Response({"status": "ready" if ok else "not ready", "checks": checks},
                    status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE)
