"""Commands to the edge hosting a meeting, over a real nats-server: kick, mute, admit, deny,
promote, end for all; and what happens when no edge answers, or answers late, or refuses."""

from __future__ import annotations

import asyncio
import contextlib

from nodes import wire
from tests.control_plane.meetings_support import (
    create_meeting,
    edges,  # noqa: F401 - the fixture
    field_names,
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)
from tests.support.util import eventually


async def placed_meeting(cp, edges, host: dict, **meeting):  # noqa: ANN001, ANN201, ANN003
    """A meeting placed on a fresh edge that hosts it (answers its commands)."""
    edge = await edges("edge-a")
    await wait_edges(cp, "edge-a")
    m = await create_meeting(cp, host, **meeting)
    r = await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=host)
    assert r.status_code == 200, r.text
    await edge.host(m["id"])
    return m, edge


async def me(cp, headers: dict) -> str:  # noqa: ANN001
    return (await cp.client.get("/api/v1/auth/me", headers=headers)).json()["account"]["id"]


async def test_commands_reach_the_hosting_edge(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        m, edge = await placed_meeting(cp, edges, host)
        base = f"/api/v1/meetings/{m['id']}/participants/p-7"

        r = await cp.client.post(f"{base}/kick", json={"reason": "spam"}, headers=host)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["edge_id"] == "edge-a" and r.json()["epoch"] == 1
        r = await cp.client.post(f"{base}/mute", json={"kind": "video"}, headers=host)
        assert r.status_code == 200
        assert (await cp.client.post(f"{base}/mute", headers=host)).status_code == 200  # body optional: audio
        assert (await cp.client.post(f"{base}/admit", headers=host)).status_code == 200
        assert (await cp.client.post(f"{base}/deny", headers=host)).status_code == 200

        kick, mute_v, mute_a, admit, deny = edge.commands
        hanna = await me(cp, host)
        assert isinstance(kick, wire.Kick) and kick.participant_id == "p-7" and kick.reason == "spam"
        assert isinstance(mute_v, wire.Mute) and mute_v.kind == "video" and mute_a.kind == "audio"
        assert isinstance(admit, wire.Admit) and isinstance(deny, wire.Deny)
        assert all(c.meeting_id == m["id"] and c.epoch == 1 and c.by == hanna for c in edge.commands)
        assert len({c.command_id for c in edge.commands}) == 5
        assert r.json()["command_id"] == mute_v.command_id

        r = await cp.client.post(f"{base}/mute", json={"kind": "smell"}, headers=host)
        assert r.status_code == 400 and field_names(r) == ["kind"]
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/participants/bad%20id/kick", headers=host)
        assert r.status_code == 404 and field_names(r) == ["participant_id"]
        await edge.stop()


async def test_only_those_who_manage_the_meeting_send_commands(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        cohost = await user(cp, "carl", "member")
        m, edge = await placed_meeting(cp, edges, host, cohosts=["carl"])
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/participants/p1/kick", headers=member)
        assert r.status_code == 403
        assert r.json()["detail"] == "only the meeting's owner, its co-hosts and admins may kick participants"
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/end", headers=member)
        assert r.status_code == 403 and "may end it" in r.json()["detail"]
        assert edge.commands == []
        assert (await cp.client.post(f"/api/v1/meetings/{m['id']}/participants/p1/kick",
                                     headers=cohost)).status_code == 200
        await edge.stop()


async def test_no_edge_timeout_and_refusal(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url, meetings={"command_timeout": 0.3})) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        unplaced = await create_meeting(cp, host)
        r = await cp.client.post(f"/api/v1/meetings/{unplaced['id']}/participants/p1/kick", headers=host)
        assert r.status_code == 503 and r.json()["detail"] == "no edge hosts this meeting"

        m, edge = await placed_meeting(cp, edges, host)
        url = f"/api/v1/meetings/{m['id']}/participants/p1/mute"
        edge.answer = lambda cmd: wire.CommandReply(command_id=cmd.command_id, ok=False, edge_id="edge-a",
                                                    error="no participant p1 here")
        r = await cp.client.post(url, headers=host)
        assert r.status_code == 409 and r.json()["detail"] == "command: the edge refused: no participant p1 here"
        edge.answer = lambda cmd: False  # never answers
        r = await cp.client.post(url, headers=host)
        assert r.status_code == 504 and r.json()["detail"] == "the edge did not confirm within 0.3 s"
        await edge.stop()  # nobody subscribed any more: NATS says "no responders" at once
        r = await cp.client.post(url, headers=host)
        assert r.status_code == 503 and r.json()["detail"] == "no edge hosts this meeting"


async def test_promote_makes_a_lasting_moderator(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        m, edge = await placed_meeting(cp, edges, host, allow_guests=True)
        mia = await me(cp, member)
        await edge.publish(wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a", participant_id="p-mia",
                                                  account_id=mia, display_name="Mia", role="member"))
        await edge.publish(wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a", participant_id="p-guest",
                                                  account_id="guest:x", display_name="G", role="guest"))
        await eventually(lambda: cp.services.events.applied == 2, what="joins applied")
        base = f"/api/v1/meetings/{m['id']}/participants"

        r = await cp.client.post(f"{base}/p-guest/promote", headers=host)
        assert r.status_code == 409 and r.json()["detail"] == (
            "participant_id: a guest cannot be promoted (guests may not moderate)")
        r = await cp.client.post(f"{base}/p-nobody/promote", headers=host)
        assert r.status_code == 404 and r.json()["detail"] == "participant_id: is not in this meeting"
        assert edge.commands == []

        r = await cp.client.post(f"{base}/p-mia/promote", headers=host)
        assert r.status_code == 200
        assert isinstance(edge.commands[-1], wire.Promote) and edge.commands[-1].participant_id == "p-mia"
        token = (await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=member)).json()
        assert token["role"] == "moderator" and token["permissions"]["moderate"] is True
        await edge.stop()


async def test_end_for_all(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        m, edge = await placed_meeting(cp, edges, host)
        await edge.publish(wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a", participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="join applied")

        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/end", json={"reason": "time is up"}, headers=host)
        assert r.status_code == 200, r.text
        assert (r.json()["ok"], r.json()["edge_id"], r.json()["state"]) == (True, "edge-a", "ended")
        [end] = edge.commands
        assert isinstance(end, wire.EndMeeting) and end.reason == "time is up" and end.epoch == 1
        got = (await cp.client.get(f"/api/v1/meetings/{m['id']}", headers=host)).json()
        assert got["state"] == "ended"
        [row] = (await cp.client.get(f"/api/v1/meetings/{m['id']}/attendance", headers=host)).json()
        assert row["left_reason"] == "ended"
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=member)
        assert r.status_code == 409
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/end", headers=host)
        assert r.status_code == 409 and r.json()["detail"] == "state: the meeting has already ended"

        # A meeting no edge hosts is ended as a state change alone.
        idle = await create_meeting(cp, host)
        r = await cp.client.post(f"/api/v1/meetings/{idle['id']}/end", headers=host)
        assert r.status_code == 200 and r.json()["edge_id"] == "" and r.json()["state"] == "ended"
        await edge.stop()


async def test_deleting_a_live_meeting_ends_it_on_its_edge(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        m, edge = await placed_meeting(cp, edges, host)
        await edge.publish(wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a", participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="join applied")
        assert (await cp.client.delete(f"/api/v1/meetings/{m['id']}", headers=host)).status_code == 204
        [end] = edge.commands
        assert isinstance(end, wire.EndMeeting) and end.reason == "the meeting was deleted"
        assert (await cp.client.get(f"/api/v1/meetings/{m['id']}", headers=host)).status_code == 404
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/participants/p1/kick", headers=host)
        assert r.status_code == 404  # the meeting, its roster and its placement are gone


async def test_end_to_end_with_a_real_control_plane_and_edge(nats_server, tmp_path) -> None:
    """Both as real processes on one nats-server: the edge verifies our token with keys it got
    over ``cc.cp.jwks``, its events build our roster, and our commands act on its sockets."""
    import json

    import httpx
    import websockets

    from tests.support import procs

    cp = procs.control_plane(tmp_path, nats_server.url,
                             bootstrap={"admin_password_file": str(tmp_path / "admin-password")})
    edge = procs.edge(tmp_path, nats_server.url, "edge-e2e", region="local")
    cp.start()
    edge.start()
    sockets: list = []

    async def ws_join(url: str, token: str, mid: str, first: str) -> tuple:  # noqa: ANN001
        ws = await websockets.connect(f"{url}?meeting={mid}")
        sockets.append(ws)
        await ws.send(json.dumps({"type": "join", "id": 1, "token": token, "meeting_id": mid}))
        return ws, await expect(ws, first)

    async def expect(ws, kind: str) -> dict:  # noqa: ANN001
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert msg["type"] != "error", msg
            if msg["type"] == kind:
                return msg

    try:
        cp.wait_http("/readyz")
        edge.wait_http("/readyz")
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
            password = (tmp_path / "admin-password").read_text().strip()
            token = (await http.post("/api/v1/auth/token", json={"username": "admin", "password": password})
                     ).json()["token"]
            admin_h = {"Authorization": f"Bearer {token}"}

            async def edges_listed() -> bool:
                return any(e["edge_id"] == "edge-e2e" for e in (await http.get("/api/v1/edges", headers=admin_h)).json())
            await eventually(edges_listed, timeout=15, what="edge in the registry")
            m = (await http.post("/api/v1/meetings", headers=admin_h,
                                 json={"title": "E2E", "lobby": True, "allow_guests": True})).json()
            mid = m["id"]

            host_join = (await http.post(f"/api/v1/meetings/{mid}/join", json={}, headers=admin_h)).json()
            assert host_join["edge_url"] == f"ws://127.0.0.1:{edge.port}/ws"
            host_ws, joined = await ws_join(host_join["edge_url"], host_join["token"], mid, "joined")
            assert joined["role"] == "host" and joined["grants"]["moderate"] is True

            guest_join = (await http.post(f"/api/v1/meetings/{mid}/join", json={"display_name": "Gary"})).json()
            assert guest_join["lobby"] is True
            guest_ws, waiting = await ws_join(guest_join["edge_url"], guest_join["token"], mid, "lobby_waiting")
            gid = waiting["participant_id"]

            async def in_roster(pid: str, lobby: bool) -> bool:
                r = (await http.get(f"/api/v1/meetings/{mid}/participants", headers=admin_h)).json()
                return any(p["participant_id"] == pid and p["lobby"] is lobby for p in r["participants"])
            await eventually(lambda: in_roster(gid, True), timeout=10, what="guest waiting in our roster")
            assert (await http.get(f"/api/v1/meetings/{mid}", headers=admin_h)).json()["state"] == "live"

            r = await http.post(f"/api/v1/meetings/{mid}/participants/{gid}/admit", headers=admin_h)
            assert r.status_code == 200 and r.json()["edge_id"] == "edge-e2e", r.text
            await expect(guest_ws, "admitted")
            await eventually(lambda: in_roster(gid, False), timeout=10, what="guest admitted in our roster")

            r = await http.post(f"/api/v1/meetings/{mid}/participants/{gid}/kick", json={"reason": "test"},
                                headers=admin_h)
            assert r.status_code == 200, r.text
            assert (await expect(guest_ws, "kicked"))["reason"] == "test"

            async def kicked_in_attendance() -> bool:
                rows = (await http.get(f"/api/v1/meetings/{mid}/attendance", headers=admin_h)).json()
                return any(a["participant_id"] == gid and a["left_reason"] == "kicked" for a in rows)
            await eventually(kicked_in_attendance, timeout=10, what="kick in our attendance")

            r = await http.post(f"/api/v1/meetings/{mid}/end", headers=admin_h)
            assert r.status_code == 200 and r.json()["edge_id"] == "edge-e2e", r.text
            await expect(host_ws, "meeting_ended")
            r = await http.post(f"/api/v1/meetings/{mid}/join", json={}, headers=admin_h)
            assert r.status_code == 409
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        edge.stop()
        cp.stop()


async def test_a_lock_or_limit_change_is_pushed_to_the_hosting_edge(control_plane, nats_server, edges) -> None:
    from nodes.claims import verify_join_token
    from tests.control_plane.meetings_support import keyset

    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        m, edge = await placed_meeting(cp, edges, host, max_participants=5)
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=host)
        issued = verify_join_token(r.json()["token"], keyset(cp)).pol
        assert (issued.locked, issued.max_participants) == (False, 5) and issued.version > 0

        r = await cp.client.patch(f"/api/v1/meetings/{m['id']}", json={"locked": True}, headers=host)
        assert r.status_code == 200, r.text
        await eventually(lambda: any(isinstance(c, wire.Policy) for c in edge.commands), what="the policy pushed")
        pushed = next(c for c in edge.commands if isinstance(c, wire.Policy))
        assert (pushed.meeting_id, pushed.epoch, pushed.policy.locked, pushed.policy.max_participants) == \
            (m["id"], 1, True, 5)
        assert pushed.policy.version > issued.version          # newer than what earlier tokens carry
        r = await cp.client.patch(f"/api/v1/meetings/{m['id']}", json={"title": "renamed"}, headers=host)
        assert r.status_code == 200
        assert sum(isinstance(c, wire.Policy) for c in edge.commands) == 1   # only lock and limit are pushed
        await edge.stop()
