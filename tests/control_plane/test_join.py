"""Joining: tokens for members, hosts and guests, every refusal, and placement on live edges
(a real nats-server; edges heartbeat over it, or run as real edge processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from control_plane.events.apply import apply_event
from nodes import subjects, wire
from nodes.claims import verify_join_token
from tests.control_plane.meetings_support import (
    admin,
    client_at,
    create_meeting,
    edges,  # noqa: F401 - the fixture
    field_names,
    keyset,
    nats_client,
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)
from tests.support import procs
from tests.support.util import eventually


async def join(cp, meeting_id: str, headers: dict | None = None, client=None, **body):  # noqa: ANN001, ANN201
    return await (client or cp.client).post(f"/api/v1/meetings/{meeting_id}/join", json=body, headers=headers or {})


async def test_a_member_joins_with_a_token_for_the_live_edge(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        m = await create_meeting(cp, host)

        r = await join(cp, m["id"], member)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["edge_id"], body["edge_url"], body["meeting_id"]) == ("edge-a", edge.url, m["id"])
        assert body["role"] == "member" and body["lobby"] is False and body["epoch"] == 1
        assert body["permissions"] == {"publish_audio": True, "publish_video": True, "publish_screen": True,
                                       "subscribe": True, "chat": True, "moderate": False, "record": False}
        claims = verify_join_token(body["token"], keyset(cp), edge_id="edge-a")
        me = (await cp.client.get("/api/v1/auth/me", headers=member)).json()["account"]
        assert claims.sub == me["id"] and claims.name == "Mia" and claims.mid == m["id"] and claims.ep == 1
        assert claims.exp == body["expires_at"] and claims.iss == "http://testserver.local"
        assert claims.perms.granted() == {k for k, v in body["permissions"].items() if v}

        r = await join(cp, m["id"], host)  # the owner is a host of the meeting
        assert r.json()["role"] == "host" and r.json()["permissions"]["moderate"] is True
        boss = await admin(cp)
        assert (await join(cp, m["id"], boss)).json()["role"] == "host"
        await edge.stop()


async def test_guests_join_by_name_and_wait_in_the_lobby(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        open_m = await create_meeting(cp, host, allow_guests=True, lobby=True)
        closed = await create_meeting(cp, host)
        guest = cp.client  # no session: its requests carry no credentials

        r = await join(cp, open_m["id"], client=guest, display_name="  Gary  ")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["role"] == "guest" and body["lobby"] is True
        assert body["permissions"]["publish_screen"] is False and body["permissions"]["moderate"] is False
        claims = verify_join_token(body["token"], keyset(cp))
        assert claims.sub.startswith("guest:") and claims.name == "Gary" and claims.lobby is True
        again = verify_join_token((await join(cp, open_m["id"], client=guest, display_name="Gary")).json()["token"],
                                  keyset(cp))
        assert again.sub != claims.sub  # every guest join is a new guest

        r = await join(cp, open_m["id"], client=guest)
        assert r.status_code == 400 and field_names(r) == ["display_name"]
        assert r.json()["detail"] == "display_name: a guest must give a name to join"
        r = await join(cp, closed["id"], client=guest, display_name="Gary")
        assert r.status_code == 401
        assert r.json()["detail"] == "sign in to join: this meeting does not allow guests"
        # A signed-in member does not wait in the lobby.
        member = await user(cp, "mia", "member")
        assert (await join(cp, open_m["id"], member)).json()["lobby"] is False
        # A guest account is a guest: admitted only where guests are, and to the lobby.
        guest_account = await user(cp, "gina", "guest")
        r = await join(cp, closed["id"], guest_account)
        assert r.status_code == 403
        assert r.json()["detail"] == "this meeting does not allow guests (your account is a guest account)"
        r = (await join(cp, open_m["id"], guest_account)).json()
        assert (r["role"], r["lobby"], r["permissions"]["publish_screen"]) == ("guest", True, False)
        await edge.stop()


async def test_refusals_password_locked_full_ended_and_no_edge(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        guest = cp.client
        m = await create_meeting(cp, host, password="open-sesame", allow_guests=True, max_participants=2)

        r = await join(cp, m["id"], member)  # the password is checked before placement: no edge needed yet
        assert r.status_code == 403 and field_names(r) == ["password"]
        assert r.json()["detail"] == "password: this meeting needs a password"
        r = await join(cp, m["id"], member, password="guess")
        assert r.status_code == 403 and r.json()["detail"] == "password: is wrong"

        r = await join(cp, m["id"], member, password="open-sesame")
        assert r.status_code == 503 and r.json()["detail"] == "no live edge can host this meeting; try again shortly"
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        assert (await join(cp, m["id"], member, password="open-sesame")).status_code == 200
        assert (await join(cp, m["id"], host)).status_code == 200  # hosts need no password

        # Locked: only hosts and moderators get in.
        await cp.client.patch(f"/api/v1/meetings/{m['id']}", headers=host, json={"locked": True})
        r = await join(cp, m["id"], client=guest, display_name="Gary", password="open-sesame")
        assert r.status_code == 403 and r.json()["detail"] == "the meeting is locked: only its hosts and moderators may join"
        assert (await join(cp, m["id"], member, password="open-sesame")).status_code == 403
        assert (await join(cp, m["id"], host)).status_code == 200
        await cp.client.patch(f"/api/v1/meetings/{m['id']}", headers=host, json={"locked": False})

        # Full: two are in (as the edges' events say).
        for pid in ("p1", "p2"):
            await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a",
                                                                     participant_id=pid))
        r = await join(cp, m["id"], member, password="open-sesame")
        assert r.status_code == 409 and field_names(r) == ["max_participants"]
        assert r.json()["detail"] == "max_participants: the meeting is full (2 of 2)"

        # Ended: nobody joins until an owner or co-host restarts it.
        await cp.services.meetings.mark_ended(m["id"], reason="ended")
        for headers in (member, host):
            r = await join(cp, m["id"], headers, password="open-sesame")
            assert r.status_code == 409
            assert r.json()["detail"] == "state: the meeting has ended; its owner or a co-host may restart it"
        assert (await cp.client.post(f"/api/v1/meetings/{m['id']}/restart", headers=host)).status_code == 200
        assert (await join(cp, m["id"], member, password="open-sesame")).status_code == 200
        r = await join(cp, "0" * 32, member)
        assert r.status_code == 404
        await edge.stop()


async def test_publish_policy_and_meeting_roles(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        cohost = await user(cp, "carl", "member")
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        m = await create_meeting(cp, host, publish_policy="hosts", cohosts=["carl"])

        r = (await join(cp, m["id"], member)).json()
        assert r["role"] == "member"
        assert {k for k, v in r["permissions"].items() if v} == {"subscribe", "chat"}
        r = (await join(cp, m["id"], cohost)).json()
        assert r["role"] == "host"  # a co-host, but a member account: everything but recording
        assert {k for k, v in r["permissions"].items() if v} == {"publish_audio", "publish_video", "publish_screen",
                                                                "subscribe", "chat", "moderate"}
        mia = (await cp.client.get("/api/v1/auth/me", headers=member)).json()["account"]["id"]
        await cp.services.meetings.repo.add_moderator(m["id"], mia, "x", 0.0)
        r = (await join(cp, m["id"], member)).json()
        assert r["role"] == "moderator" and r["permissions"]["moderate"] and r["permissions"]["publish_audio"]
        await edge.stop()


async def test_placement_by_region_load_and_home(control_plane, nats_server, edges) -> None:
    regions = {"10.1.0.0/16": "eu", "10.0.0.0/8": "us"}
    async with (control_plane(**nats_overrides(nats_server.url), placement={"regions": regions},
                              default_region="ap") as cp):
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        edges = [await edges("eu-busy", region="eu", cpu_pct=80),
                 await edges("eu-idle", region="eu", cpu_pct=15),
                 await edges("us-1", region="us", cpu_pct=1)]
        await wait_edges(cp, "eu-busy", "eu-idle", "us-1")

        async def placed(addr: str, meeting_id: str | None = None, **body) -> dict:  # noqa: ANN003
            meeting_id = meeting_id or (await create_meeting(cp, host, allow_guests=True))["id"]
            async with client_at(cp, addr) as guest:
                r = await join(cp, meeting_id, client=guest, display_name="G", **body)
            assert r.status_code == 200, r.text
            return r.json()

        eu = await placed("10.1.2.3")
        assert eu["edge_id"] == "eu-idle" and eu["alt"] == ["eu-busy"] and eu["region"] == "eu"
        assert eu["alternates"] == [{"edge_id": "eu-busy", "url": "ws://eu-busy.test/ws"}]
        assert (await placed("10.9.9.9"))["edge_id"] == "us-1"
        assert (await placed("10.9.9.9", region="eu"))["edge_id"] == "eu-idle"  # the request's region wins
        # Default region "ap" has no edge: the least loaded anywhere.
        assert (await placed("192.168.1.1"))["edge_id"] == "us-1"
        # A participant of another region goes to that region's site (recorded), the home stays.
        again = await placed("10.9.9.9", eu["meeting_id"])
        assert (again["edge_id"], again["epoch"], again["alt"]) == ("us-1", 1, [])
        entry, _ = await cp.services.placement.current(eu["meeting_id"])
        assert (entry.edge_id, entry.sites) == ("eu-idle", {"eu": "eu-idle", "us": "us-1"})
        # From a region without edges: the home.
        assert (await placed("192.168.1.1", eu["meeting_id"]))["edge_id"] == "eu-idle"
        r = await join(cp, eu["meeting_id"], display_name="H", region="no/such")
        assert r.status_code == 400 and field_names(r) == ["region"]
        for e in edges:
            await e.stop()


async def test_concurrent_placements_of_one_meeting_end_on_one_edge(control_plane, nats_server, tmp_path) -> None:
    from control_plane.edges.registry import EdgeRegistry
    from control_plane.placement.service import PlacementService
    from nodes.bus import Bus
    from nodes.settings import NatsSettings

    # Two control planes that disagree about which edge is least loaded (neither edge busy: below
    # [placement] busy_cpu_pct, so no control plane adds an overflow edge to the other's choice).
    buses, services = [], []
    for favourite in ("edge-a", "edge-b"):
        registry = EdgeRegistry(ttl=60)
        for e in ("edge-a", "edge-b"):
            registry.observe(wire.EdgeHeartbeat(edge_id=e, region="eu", public_url=f"ws://{e}",
                                                cpu_pct=1 if e == favourite else 50))
        bus = Bus(NatsSettings(servers=[nats_server.url]), name=f"cp-{favourite}")
        await bus.start()
        await bus.wait_connected(5)
        service = PlacementService(registry)
        await service.attach(bus)
        buses.append(bus)
        services.append(service)
    try:
        meetings = [f"m{i:03d}" for i in range(30)]
        results = await asyncio.gather(*(s.place(m, "eu") for m in meetings for s in services))
        by_meeting: dict[str, set[tuple[str, int]]] = {}
        for m, res in zip([m for m in meetings for _ in services], results):
            by_meeting.setdefault(m, set()).add((res.placement.edge_id, res.placement.epoch))
        assert all(len(v) == 1 for v in by_meeting.values()), by_meeting
        assert {next(iter(v))[1] for v in by_meeting.values()} == {1}
        winners = {next(iter(v))[0] for v in by_meeting.values()}
        print(f"30 meetings placed by two racing control planes; winners: {sorted(winners)}")

        # The home edge dies: both notice and race to move it; one move wins, with epoch 2.
        for s in services:
            s.edges.remove("edge-a", "expired")
            s.edges.remove("edge-b", "expired")
            s.edges.observe(wire.EdgeHeartbeat(edge_id="edge-c", region="eu", public_url="ws://c"))
            s.edges.observe(wire.EdgeHeartbeat(edge_id="edge-d", region="eu", public_url="ws://d",
                                               cpu_pct=1 if s is services[0] else 50))
        moved = await asyncio.gather(*(s.place("m000", "eu") for s in services))
        assert {(p.placement.edge_id, p.placement.epoch) for p in moved} == {(moved[0].placement.edge_id, 2)}
        assert sum(p.changed for p in moved) == 1
    finally:
        for bus in buses:
            await bus.close()


async def test_a_dead_home_edge_is_replaced_with_the_next_epoch(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        a = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        m = await create_meeting(cp, host)
        first = (await join(cp, m["id"], host)).json()
        assert (first["edge_id"], first["epoch"]) == ("edge-a", 1)
        b = await edges("edge-b", cpu_pct=50)
        await wait_edges(cp, "edge-b")
        assert (await join(cp, m["id"], host)).json()["edge_id"] == "edge-a"  # a live home stays home

        await a.stop()  # no goodbye: it drops out after the registry's TTL
        await eventually(lambda: cp.services.edges.get("edge-a") is None, timeout=5, what="edge-a expired")
        second = (await join(cp, m["id"], host)).json()
        assert (second["edge_id"], second["epoch"]) == ("edge-b", 2)
        assert verify_join_token(second["token"], keyset(cp), edge_id="edge-b").ep == 2
        async with nats_client(nats_server.url) as nc:
            entry = await (await nc.jetstream().key_value(subjects.PLACEMENT_BUCKET)).get(m["id"])
        assert msgspec.json.decode(entry.value) == {"edge_id": "edge-b", "region": "local", "epoch": 2,
                                                    "sites": {"local": "edge-b"}}
        await b.stop()


async def test_placement_on_a_real_edge_process(control_plane, nats_server, tmp_path: Path) -> None:
    edge = procs.edge(tmp_path, nats_server.url, "edge-real", region="local").start()
    try:
        async with control_plane(**nats_overrides(nats_server.url, edges={"ttl": 6.0})) as cp:
            await wait_ready(cp)
            host = await user(cp, "hanna", "host")
            await eventually(lambda: cp.services.edges.get("edge-real") is not None, timeout=20,
                             what="the edge process heartbeats")
            m = await create_meeting(cp, host)
            body = (await join(cp, m["id"], host)).json()
            assert body["edge_id"] == "edge-real" and body["edge_url"] == f"ws://127.0.0.1:{edge.port}/ws"
            assert verify_join_token(body["token"], keyset(cp), edge_id="edge-real").mid == m["id"]
    finally:
        edge.stop()
