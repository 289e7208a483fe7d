"""Breakout rooms through the API, over a real nats-server: who may open them, what is refused and
why, the tokens the control plane signs for each participant (guests too), choosing a room with
a ticket, the broadcast, and everyone sent back — by a moderator, by the timer, or when the main
meeting ends. The edge answering the commands is :class:`FakeEdge` (real NATS, real events)."""

from __future__ import annotations

import time
from typing import Any

from nodes import wire
from nodes.claims import verify_join_token
from tests.control_plane.meetings_support import (
    FakeEdge,
    admin,
    create_meeting,
    edges,  # noqa: F401 - the fixture
    field_names,
    keyset,
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)
from tests.support.util import eventually


async def _me(cp, headers: dict) -> str:  # noqa: ANN001
    return (await cp.client.get("/api/v1/auth/me", headers=headers)).json()["account"]["id"]


async def _live(cp, edges, **meeting: Any) -> tuple[dict, FakeEdge, dict, dict, dict[str, str]]:  # noqa: ANN001
    """A live meeting on edge-a with Hanna (its host), Mia (a member) and Gus (a guest) in it."""
    host = await user(cp, "hanna", "host")
    member = await user(cp, "mia", "member")
    edge = await edges("edge-a")
    await wait_edges(cp, "edge-a")
    m = await create_meeting(cp, host, allow_guests=True, **meeting)
    assert (await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=host)).status_code == 200
    await edge.host(m["id"])
    accounts = {"p-hanna": (await _me(cp, host), "Hanna", "host"), "p-mia": (await _me(cp, member), "Mia", "member"),
                "p-gus": ("guest:gus", "Gus", "guest")}
    for pid, (account, name, role) in accounts.items():
        await edge.publish(wire.ParticipantJoined(meeting_id=m["id"], edge_id="edge-a", participant_id=pid,
                                                  account_id=account, display_name=name, role=role))
    await eventually(lambda: cp.services.events.applied == 3, what="three joins applied")
    return m, edge, host, member, {pid: a[0] for pid, a in accounts.items()}


def _breakouts(edge: FakeEdge, meeting_id: str) -> list[wire.Breakout]:
    return [c for c in edge.commands if isinstance(c, wire.Breakout) and c.meeting_id == meeting_id]


async def test_each_participant_is_sent_to_its_room_with_a_token_of_its_own(control_plane, nats_server,  # noqa: ANN001
                                                                            edges) -> None:  # noqa: ANN001
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        m, edge, host, member, accounts = await _live(cp, edges)
        before = time.time()
        r = await cp.client.post(f"/api/v1/meetings/{m['id']}/breakouts", headers=host, json={
            "rooms": [{"name": "  Design  ", "participants": ["p-mia"]}, {"participants": ["p-gus"]}],
            "duration_s": 600})
        assert r.status_code == 201, r.text
        read = r.json()
        assert (read["state"], read["allow_choose"], read["choosing"]) == ("open", False, [])
        assert before + 600 <= read["ends_at"] <= time.time() + 600
        design, second = read["rooms"]
        assert (design["name"], second["name"]) == ("Design", "Room 2")   # spaces tidied, a name by its place
        assert design["assigned"] == [{"participant_id": "p-mia", "name": "Mia"}]
        assert second["assigned"] == [{"participant_id": "p-gus", "name": "Gus"}]

        [command] = _breakouts(edge, m["id"])
        assert command.epoch == 1 and command.by == accounts["p-hanna"]
        moves = {mv.participant_id: mv for mv in command.moves}
        assert set(moves) == {"p-mia", "p-gus"}                          # the host stays
        for pid, room, role in (("p-mia", design, "member"), ("p-gus", second, "guest")):
            mv = moves[pid]
            assert (mv.action, mv.room.room_id, mv.room.name, mv.main_meeting_id) == \
                ("join", room["room_id"], room["name"], m["id"])
            assert mv.ends_at == read["ends_at"] and len(mv.ticket) >= 32
            assert (mv.join["meeting_id"], mv.join["edge_id"], mv.join["role"]) == (room["room_id"], "edge-a", role)
            claims = verify_join_token(mv.join["token"], keyset(cp), edge_id="edge-a")
            assert (claims.sub, claims.mid, claims.role, claims.lobby) == (accounts[pid], room["room_id"], role, False)
        assert verify_join_token(moves["p-gus"].join["token"], keyset(cp)).name == "Gus"
        assert moves["p-gus"].join["permissions"]["moderate"] is False

        # each room is a meeting of its own, part of the main one: not listed, not joined directly
        got = (await cp.client.get(f"/api/v1/meetings/{design['room_id']}", headers=host)).json()
        assert (got["parent_id"], got["title"], got["allow_guests"]) == (m["id"], "Design", True)
        listed = [x["id"] for x in (await cp.client.get("/api/v1/meetings", headers=host)).json()]
        assert listed == [m["id"]]
        r = await cp.client.post(f"/api/v1/meetings/{design['room_id']}/join", json={}, headers=member)
        assert r.status_code == 409 and field_names(r) == ["meeting_id"]
        assert "is a breakout room" in r.json()["detail"]
        assert (await cp.client.get(f"/api/v1/meetings/{m['id']}/breakouts", headers=host)).json()["id"] == read["id"]
        await edge.stop()


async def test_who_may_open_rooms_and_what_is_refused(control_plane, nats_server, edges) -> None:  # noqa: ANN001
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        m, edge, host, member, _ = await _live(cp, edges)
        url = f"/api/v1/meetings/{m['id']}/breakouts"

        async def refused(body: dict, status: int, field: str, detail: str = "") -> None:
            r = await cp.client.post(url, headers=host, json=body)
            assert r.status_code == status, r.text
            assert field_names(r) == [field], r.text
            assert detail in r.json()["detail"], r.text

        r = await cp.client.post(url, headers=member, json={"rooms": [{"participants": ["p-gus"]}]})
        assert r.status_code == 403
        assert r.json()["detail"] == "only the meeting's owner, its co-hosts and admins may open breakout rooms"
        for path, body in (("/broadcast", {"text": "hi"}), ("/close", {})):
            r = await cp.client.post(url + path, headers=member, json=body)
            assert r.status_code == 403, r.text
        assert (await cp.client.get(url, headers=member)).status_code == 403

        await refused({"rooms": [{"participants": ["p-mia", "p-nobody", "p-gone"]}]}, 422, "rooms[0].participants",
                      "not in the meeting: 'p-nobody', 'p-gone'")
        await refused({"rooms": [{"participants": ["p-mia"]}, {"participants": ["p-gus", "p-mia"]}]}, 422,
                      "rooms[1].participants", "'p-mia' is in room 1 already")
        await refused({"rooms": [{"name": "A"}, {"name": "A "}]}, 422, "rooms[1].name", "two rooms are called 'A'")
        await refused({"rooms": [{}, {}]}, 422, "rooms", "nobody to send")
        await refused({"rooms": []}, 400, "rooms")
        await refused({"rooms": [{"participants": ["p-mia"]}], "duration_s": 0}, 400, "duration_s")
        await refused({"rooms": [{"participants": ["bad id"]}]}, 400, "rooms[0].participants[0]")
        await refused({"rooms": [{"participants": ["p-mia"]}], "colour": "red"}, 400, "colour")
        r = await cp.client.post(f"{url}/broadcast", headers=host, json={"text": "hello"})
        assert r.status_code == 409 and r.json()["detail"] == "breakouts: no breakout rooms are open"
        r = await cp.client.post(f"{url}/broadcast", headers=host, json={"text": "   "})
        assert r.status_code == 422 and field_names(r) == ["text"]
        assert (await cp.client.post(f"{url}/close", headers=host)).status_code == 409
        assert (await cp.client.get(url, headers=host)).status_code == 404
        assert _breakouts(edge, m["id"]) == []                         # nothing was sent

        assert (await cp.client.post(url, headers=host, json={"rooms": [{"participants": ["p-mia"]}]})).status_code == 201
        await refused({"rooms": [{"participants": ["p-gus"]}]}, 409, "breakouts", "open already")
        idle = await create_meeting(cp, host)
        r = await cp.client.post(f"/api/v1/meetings/{idle['id']}/breakouts", headers=host,
                                 json={"rooms": [{"participants": ["p-mia"]}]})
        assert r.status_code == 409 and r.json()["detail"].startswith("state: the meeting is scheduled")
        await edge.stop()


async def test_choosing_a_room_broadcasting_and_bringing_everyone_back(control_plane, nats_server,  # noqa: ANN001
                                                                      edges) -> None:  # noqa: ANN001
    async with control_plane(**nats_overrides(nats_server.url, meetings={"breakout_room_grace": 0.2})) as cp:
        await wait_ready(cp)
        m, edge, host, _member, accounts = await _live(cp, edges)
        url = f"/api/v1/meetings/{m['id']}/breakouts"
        r = await cp.client.post(url, headers=host, json={
            "rooms": [{"name": "One", "participants": ["p-mia"]}, {"name": "Two"}], "allow_choose": True})
        assert r.status_code == 201, r.text
        one, two = (x["room_id"] for x in r.json()["rooms"])
        assert r.json()["choosing"] == [{"participant_id": "p-gus", "name": "Gus"}]   # not the host who opened them
        moves = {mv.participant_id: mv for mv in _breakouts(edge, m["id"])[0].moves}
        gus = moves["p-gus"]
        assert (gus.action, gus.join, [x.name for x in gus.rooms]) == ("choose", None, ["One", "Two"])

        # the ticket stands for Gus (a guest, without a session): a token into the room he picks
        r = await cp.client.post(f"{url}/join", json={"ticket": gus.ticket, "room_id": two})
        assert r.status_code == 200, r.text
        assert (r.json()["room_id"], r.json()["name"], r.json()["join"]["edge_id"]) == (two, "Two", "edge-a")
        claims = verify_join_token(r.json()["join"]["token"], keyset(cp))
        assert (claims.sub, claims.name, claims.mid, claims.role) == ("guest:gus", "Gus", two, "guest")
        assert (await cp.client.get(url, headers=host)).json()["choosing"] == []
        r = await cp.client.post(f"{url}/join", json={"ticket": gus.ticket, "room_id": m["id"]})
        assert r.status_code == 422 and field_names(r) == ["room_id"]
        r = await cp.client.post(f"{url}/join", json={"ticket": "not-a-ticket", "room_id": two})
        assert r.status_code == 403 and field_names(r) == ["ticket"]

        # Mia and Gus arrive in their rooms (new participant ids there)
        for room in (one, two):
            await edge.host(room)
        await edge.publish(wire.ParticipantJoined(meeting_id=one, edge_id="edge-a", participant_id="r-mia",
                                                  account_id=accounts["p-mia"], display_name="Mia", role="member"))
        await edge.publish(wire.ParticipantJoined(meeting_id=two, edge_id="edge-a", participant_id="r-gus",
                                                  account_id="guest:gus", display_name="Gus", role="guest"))
        await eventually(lambda: cp.services.events.applied == 5, what="the rooms' joins applied")
        rooms = (await cp.client.get(url, headers=host)).json()["rooms"]
        assert [x["present"] for x in rooms] == [[{"participant_id": "r-mia", "name": "Mia"}],
                                                 [{"participant_id": "r-gus", "name": "Gus"}]]

        r = await cp.client.post(f"{url}/broadcast", headers=host, json={"text": "  Five minutes left  "})
        assert r.status_code == 200 and r.json() == {"reached": 3, "empty": 0}, r.text
        notices = [c for c in edge.commands if isinstance(c, wire.Notice)]
        assert sorted(c.meeting_id for c in notices) == sorted([m["id"], one, two])
        assert {(c.text, c.sender_name) for c in notices} == {("Five minutes left", "Hanna")}

        r = await cp.client.post(f"{url}/close", headers=host)
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["close_reason"]) == ("closed", "moderator")
        for room, pid, account in ((one, "r-mia", accounts["p-mia"]), (two, "r-gus", "guest:gus")):
            [back] = _breakouts(edge, room)[0].moves
            assert (back.participant_id, back.action, back.main_meeting_id) == (pid, "return", m["id"])
            claims = verify_join_token(back.join["token"], keyset(cp))
            assert (claims.sub, claims.mid) == (account, m["id"])
        stop = _breakouts(edge, m["id"])[1].moves                       # those still in the main meeting stop choosing
        assert {(mv.participant_id, mv.action, mv.join) for mv in stop} == {("p-mia", "return", None),
                                                                            ("p-gus", "return", None)}
        r = await cp.client.post(f"{url}/join", json={"ticket": gus.ticket, "room_id": two})
        assert r.status_code == 409 and "closed" in r.json()["detail"]
        # after the time to come back the rooms end: whoever stayed is told
        await eventually(lambda: sum(isinstance(c, wire.EndMeeting) for c in edge.commands) == 2,
                         what="the rooms ended on their edge")
        for room in (one, two):
            assert (await cp.client.get(f"/api/v1/meetings/{room}", headers=host)).json()["state"] == "ended"
        actions = [e["action"] for e in (await cp.client.get("/api/v1/audit", headers=await admin(cp))).json()]
        assert {"meeting.breakouts_open", "meeting.breakouts_broadcast", "meeting.breakouts_close"} <= set(actions)
        await edge.stop()


async def test_the_timer_and_the_main_meeting_ending_close_the_rooms(control_plane, nats_server,  # noqa: ANN001
                                                                    edges) -> None:  # noqa: ANN001
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        m, edge, host, _member, accounts = await _live(cp, edges)
        url = f"/api/v1/meetings/{m['id']}/breakouts"
        r = await cp.client.post(url, headers=host, json={"rooms": [{"participants": ["p-mia", "p-gus"]}],
                                                          "duration_s": 1})
        assert r.status_code == 201, r.text
        room = r.json()["rooms"][0]["room_id"]
        await edge.host(room)
        await edge.publish(wire.ParticipantJoined(meeting_id=room, edge_id="edge-a", participant_id="r-mia",
                                                  account_id=accounts["p-mia"], display_name="Mia", role="member"))
        await eventually(lambda: cp.services.events.applied == 4, what="Mia in the room")
        await eventually(lambda: _breakouts(edge, room), timeout=5, what="the timer sends everyone back")
        [back] = _breakouts(edge, room)[0].moves
        assert (back.participant_id, back.action, back.join["meeting_id"]) == ("r-mia", "return", m["id"])
        got = (await cp.client.get(url, headers=host)).json()
        assert (got["state"], got["close_reason"]) == ("closed", "timer")
        assert got["closed_at"] >= got["ends_at"]

        # open again; ending the main meeting ends its rooms at once, nobody is sent back
        r = await cp.client.post(url, headers=host, json={"rooms": [{"participants": ["p-gus"]}]})
        assert r.status_code == 201, r.text
        second = r.json()["rooms"][0]["room_id"]
        await edge.host(second)
        assert (await cp.client.post(f"/api/v1/meetings/{m['id']}/end", headers=host)).status_code == 200
        got = (await cp.client.get(url, headers=host)).json()
        assert (got["id"], got["state"], got["close_reason"]) == (r.json()["id"], "closed", "meeting_ended")
        assert (await cp.client.get(f"/api/v1/meetings/{second}", headers=host)).json()["state"] == "ended"
        assert any(isinstance(c, wire.EndMeeting) and c.meeting_id == second for c in edge.commands)
        assert _breakouts(edge, second) == []
        await edge.stop()
