"""Liveness (local state only) and readiness (NATS connected) for the edge."""

from __future__ import annotations

from litestar import Request, get
from litestar.response import Response


@get("/healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, sync_to_thread=False)
def readyz(request: Request) -> Response[dict]:
    node = getattr(request.app.state, "node", None)
    checks = {"nats": bool(node and node.bus.connected), "draining": bool(node and node.heartbeat.draining)}
    ok = checks["nats"] and not checks["draining"]
    return Response({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)
