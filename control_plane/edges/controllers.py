"""The live edge registry (from heartbeats on NATS) and its HTTP view, for admins: it shows the
deployment's topology (every edge's region and address) and load."""
from __future__ import annotations

import time

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.status_codes import HTTP_200_OK

from nodes import subjects, wire

from .. import audit
from ..auth.principal import Principal, require_role
from ..errors import FieldError
from .ask import ask_edge
from .schemas import DrainBody, EdgeDrained, EdgeRead


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

    @post("/{edge_id:str}/drain", summary="Drain an edge: it takes no new joins or meetings (admin)",
          status_code=HTTP_200_OK)
    async def drain_edge(self, request: Request, principal: Principal, edge_id: str,
                         data: DrainBody | None = None) -> EdgeDrained:
        require_role(principal, "admin", "drain edges")
        services = request.app.state.services
        if not subjects.TOKEN_RE.match(edge_id) or services.edges.get(edge_id) is None:
            raise NotFoundException(f"no live edge {edge_id!r}")
        reason = (data or DrainBody()).reason
        command = wire.DrainEdge(edge_id=edge_id, by=principal.account_id, reason=reason)
        timeout = services.settings.meetings.command_timeout
        reply = await ask_edge(services.bus, subjects.edge_drain(edge_id), command, timeout=timeout, what="drain",
                               nobody=ServiceUnavailableException(f"edge {edge_id} does not listen for drain commands"))
        if not isinstance(reply, wire.CommandReply) or not reply.ok:
            why = reply.error if isinstance(reply, wire.CommandReply) else f"{reply.error}: {reply.detail}"
            raise FieldError("edge_id", f"the edge refused: {why}", status_code=409)
        await audit.record(services.db, audit.actor_of(principal, as_admin=True), "edge.drain", target_kind="edge",
                           target_id=edge_id, details={"reason": reason} if reason else {})
        return EdgeDrained(edge_id=edge_id, draining=True, command_id=command.command_id)
