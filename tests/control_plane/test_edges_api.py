"""The live edges (topology and load) are shown to admins only."""

from __future__ import annotations

from tests.control_plane.meetings_support import (
    admin,
    edges,  # noqa: F401 - the fixture
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)


async def test_only_admins_see_the_live_edges(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        edge = await edges("eu-1", region="eu", cpu_pct=12.5)
        await wait_edges(cp, "eu-1")

        r = await cp.client.get("/api/v1/edges")
        assert r.status_code == 401 and r.json()["detail"] == "sign in first"
        for role in ("member", "host"):
            r = await cp.client.get("/api/v1/edges", headers=await user(cp, f"u-{role}", role))
            assert r.status_code == 403
            assert r.json()["detail"] == f"role '{role}' may not list edges (needs 'admin')"
        r = await cp.client.get("/api/v1/edges", headers=await admin(cp))
        assert r.status_code == 200
        listed = r.json()
        assert [(e["edge_id"], e["region"], e["cpu_pct"]) for e in listed] == [("eu-1", "eu", 12.5)]
        await edge.stop()
