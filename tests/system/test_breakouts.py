"""Breakout rooms with real processes: a NATS hub with an "eu" and a "us" leaf, the control plane,
an edge in each region, and signaling clients. The meeting spans both regions; the API opens two
rooms, each participant's own edge tells it where to go, each room is placed on an edge of its
participant's region, the broadcast reaches both rooms, and closing sends everyone back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.edge.edge_support import Client
from tests.support import procs
from tests.support.regional import admin_headers, cp_get, cp_post, create_meeting, listed_edges, regional_stack
from tests.support.topology import Topology
from tests.support.util import eventually


@pytest.fixture
def two_regions(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    with regional_stack(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]}) as stack:
        yield stack


async def _join(cp: procs.Proc, meeting: str, region: str, headers: dict[str, str] | None = None,
                name: str = "") -> Client:
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        r = await http.post(f"/api/v1/meetings/{meeting}/join", headers=headers or {},
                            json={"region": region, **({"display_name": name} if name else {})})
    assert r.status_code == 200, r.text
    return await _enter(r.json())


async def _enter(answer: dict[str, Any]) -> Client:
    """Join with a join answer, as the web app does with one from the control plane."""
    c = await Client.open(answer["edge_url"])
    first = await c.join(answer["token"], answer["meeting_id"])
    assert first["type"] == "joined", first
    return c


def _names(c: Client) -> set[str]:
    """Whom the client's roster holds now (its joined roster and what came since)."""
    names = {p["participant_id"]: p["name"] for p in c.joined["roster"]}
    for m in c.seen:
        if m["type"] == "participant_joined":
            names[m["participant"]["participant_id"]] = m["participant"]["name"]
        elif m["type"] == "participant_left":
            names.pop(m["participant_id"], None)
    return set(names.values())


async def test_breakout_rooms_across_two_regions(two_regions) -> None:  # noqa: ANN001
    _topo, cp, _edges = two_regions
    await eventually(lambda: listed_edges(cp) == ["eu-1", "us-1"], timeout=20, what="both edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin, title="All hands")
    host = await _join(cp, mid, "eu", admin)
    ada = await _join(cp, mid, "eu", name="Ada")
    bob = await _join(cp, mid, "us", name="Bob")
    assert bob.joined["meeting"]["edge_id"] == "us-1" and ada.joined["meeting"]["edge_id"] == "eu-1"
    me = host.joined["name"]
    await eventually(lambda: _names(host) == {me, "Ada", "Bob"}, timeout=10,
                     what="the host sees Ada and Bob (Bob through the us edge)")
    pids = {c: c.joined["participant_id"] for c in (ada, bob)}

    async def in_roster() -> bool:
        r = await cp_get(cp, f"/api/v1/meetings/{mid}/participants", admin)
        return r["present"] == 3
    await eventually(in_roster, timeout=10, what="all three in the control plane's roster")

    r = await cp_post(cp, f"/api/v1/meetings/{mid}/breakouts", admin, {
        "rooms": [{"name": "Europe", "participants": [pids[ada]]}, {"name": "America", "participants": [pids[bob]]}],
        "duration_s": 3600})
    assert r.status_code == 201, r.text
    europe, america = (room["room_id"] for room in r.json()["rooms"])

    # each hears it from its own edge, with a token for its room placed in its own region
    go_ada, go_bob = await ada.expect("breakout", timeout=10), await bob.expect("breakout", timeout=10)
    assert (go_ada["action"], go_ada["room"]["name"], go_ada["join"]["edge_id"]) == ("join", "Europe", "eu-1")
    assert (go_bob["action"], go_bob["room"]["name"], go_bob["join"]["edge_id"]) == ("join", "America", "us-1")
    assert go_ada["join"]["meeting_id"] == europe and go_bob["join"]["meeting_id"] == america
    assert not any(m["type"] == "breakout" for m in host.seen)        # whoever opened the rooms stays

    # they leave the main meeting and enter their rooms, as the same people
    await ada.send({"type": "leave"})
    await bob.send({"type": "leave"})
    in_europe, in_america = await _enter(go_ada["join"]), await _enter(go_bob["join"])
    assert (in_europe.joined["name"], in_europe.joined["role"]) == ("Ada", "guest")
    assert [p["name"] for p in in_america.joined["roster"]] == ["Bob"]   # alone in the room: Ada is elsewhere
    await eventually(lambda: _names(host) == {me}, timeout=10, what="the main meeting has only the host left")

    async def rooms_filled() -> bool:
        got = await cp_get(cp, f"/api/v1/meetings/{mid}/breakouts", admin)
        return [[p["name"] for p in room["present"]] for room in got["rooms"]] == [["Ada"], ["Bob"]]
    await eventually(rooms_filled, timeout=10, what="the control plane sees Ada and Bob in their rooms")

    r = await cp_post(cp, f"/api/v1/meetings/{mid}/breakouts/broadcast", admin, {"text": "Two minutes left"})
    assert r.status_code == 200 and r.json() == {"reached": 3, "empty": 0}, r.text
    for c in (in_europe, in_america, host):
        assert (await c.expect("notice", timeout=10))["text"] == "Two minutes left"

    r = await cp_post(cp, f"/api/v1/meetings/{mid}/breakouts/close", admin, {})
    assert r.status_code == 200 and r.json()["state"] == "closed", r.text
    back_ada, back_bob = await in_europe.expect("breakout", timeout=10), await in_america.expect("breakout", timeout=10)
    assert (back_ada["action"], back_ada["join"]["meeting_id"], back_ada["join"]["edge_id"]) == ("return", mid, "eu-1")
    assert (back_bob["action"], back_bob["join"]["meeting_id"], back_bob["join"]["edge_id"]) == ("return", mid, "us-1")
    for c in (in_europe, in_america):
        await c.send({"type": "leave"})
    again = [await _enter(back_ada["join"]), await _enter(back_bob["join"])]
    await eventually(lambda: _names(host) == {me, "Ada", "Bob"}, timeout=10, what="the host sees both back")
    for c in (host, ada, bob, in_europe, in_america, *again):
        await c.close()
