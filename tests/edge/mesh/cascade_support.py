"""Several real edge apps in this process, each on its own NATS user of a hub + regional leaves
(:class:`tests.support.topology.Topology`), sharing one join-token key (a JWKS file)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from edge.settings import Settings
from nodes.settings import convert
from tests.edge.edge_support import MEETING, Client, EdgeServer, TokenKit
from tests.support.logcheck import allow_errors
from tests.support.topology import Topology
from tests.support.util import eventually, free_port

#: Fast mesh timings for tests (the defaults are 2 s / 6 s).
MESH = {"state_interval": 0.5, "edge_timeout": 3.0, "request_timeout": 3.0, "relay_retry": 3.0,
        "placement_domain": "hub"}


def settings(topology: Topology, edge_id: str, region: str, jwks: Path, **sections: Any) -> Settings:
    allow_errors(r"edge\.events: events not published before stopping",
                 reason="no events stream on the leaves here: the edges' events are never stored")
    data: dict[str, Any] = {"edge_id": edge_id, "region": region,
                            "nats": {**topology.edge_nats(edge_id), "drain_timeout": 2.0},
                            "auth": {"jwks_file": str(jwks)}, "heartbeat": {"interval": 0.5},
                            "http": {"port": free_port()}, "mesh": dict(MESH),
                            # no CC_EVENTS stream on the leaves here: do not wait for events on stop
                            "events": {"flush_timeout": 0.2}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return convert(data, Settings)


@contextlib.asynccontextmanager
async def edges(topology: Topology, tokens: TokenKit, workdir: Path,
                **sections: Any) -> AsyncIterator[dict[str, EdgeServer]]:
    """Every edge of *topology*, started and connected to NATS."""
    jwks = tokens.write(workdir / "jwks.json")
    async with contextlib.AsyncExitStack() as stack:
        out: dict[str, EdgeServer] = {}
        for region in topology.regions.values():
            for edge_id in region.edges:
                out[edge_id] = await stack.enter_async_context(
                    EdgeServer(settings(topology, edge_id, region.name, jwks, **sections)))
        for server in out.values():
            await server.node.bus.wait_connected(10)
        yield out


async def join(server: EdgeServer, tokens: TokenKit, name: str, meeting: str = MEETING, **claims: Any) -> Client:
    c = await Client.open(server.ws_url())
    first = await c.join(tokens.sign(name=name, eid=server.settings.edge_id, mid=meeting, **claims), meeting)
    assert first["type"] in ("joined", "lobby_waiting"), first
    return c


def pid(c: Client) -> str:
    """A joined client's participant id."""
    return c.joined["participant_id"]


def roster(c: Client) -> list[str]:
    """Names in the roster as the client knows it now: its joined roster, then every
    participant_joined / participant_left it was sent."""
    names = {p["participant_id"]: p["name"] for p in c.joined.get("roster", [])}
    order = list(names)
    for msg in c.seen:
        if msg["type"] == "participant_joined":
            pid = msg["participant"]["participant_id"]
            names[pid] = msg["participant"]["name"]
            if pid not in order:
                order.append(pid)
        elif msg["type"] == "participant_left" and msg["participant_id"] in order:
            order.remove(msg["participant_id"])
    return [names[p] for p in order]


async def same_roster(clients: list[Client], names: list[str], timeout: float = 15.0) -> None:
    """Every client's roster holds exactly *names* (in any order) within *timeout*."""
    await eventually(lambda: all(sorted(roster(c)) == sorted(names) for c in clients), timeout=timeout,
                     interval=0.1, what=f"every roster is {names}: {[roster(c) for c in clients]}")
