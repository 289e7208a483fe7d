"""The live edge registry (from heartbeats on NATS) and its HTTP view, for admins: it shows the
deployment's topology (every edge's region and address) and load."""
from __future__ import annotations

import time

from litestar import Controller, Request, get

from ..auth.principal import Principal, require_role
from .schemas import EdgeRead


class EdgeController(Controller):
    path = "/api/v1/edges"
    tags = ["edges"]

    @get("/", summary="Live edges and their load (admin)")
    async def list_edges(self, request: Request, principal: Principal) -> list[EdgeRead]:
        require_role(principal, "admin", "list edges")
        registry = request.app.state.services.edges
        now = time.monotonic()
        out = []
        for e in registry.live():
            hb = e.heartbeat
            out.append(EdgeRead(edge_id=hb.edge_id, region=hb.region, public_url=hb.public_url,
                                meetings=hb.meetings, participants=hb.participants, tracks=hb.tracks,
                                cpu_pct=hb.cpu_pct, draining=hb.draining, version=hb.version,
                                age=round(now - e.last_seen, 3), started_at=hb.started_at, machine=hb.machine,
                                streams=hb.streams))
        return out
