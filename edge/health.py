"""Liveness (local state only) and readiness for the edge: NATS connected, not draining, and the
forwarding core's hooks into aiortc fit the installed version (checked at start)."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, sync_to_thread=False)
def readyz(request: Request) -> Response[dict]:
    node = getattr(request.app.state, "node", None)
    sfu_problem = node.sfu_problem if node else "not started"
    checks = {"nats": bool(node and node.bus.connected), "draining": bool(node and node.heartbeat.draining),
              "sfu": sfu_problem is None}
    ok = checks["nats"] and not checks["draining"] and checks["sfu"]
    body: dict = {"status": "ready" if ok else "not ready", "checks": checks}
    if sfu_problem is not None:
        body["problems"] = {"sfu": sfu_problem}
    return Response(body, status_code=200 if ok else 503)
