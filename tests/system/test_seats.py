"""One seat per join token, and the meeting's lock and participant limit enforced by the edges, with
real processes: a NATS hub and an "eu" leaf, the control plane, two edges of region eu, and
signaling clients that join with the tokens the control plane issues."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.edge.edge_support import Client
from tests.support import procs
from tests.support.regional import (
    admin_headers,
    cp_post,
    create_meeting,
    listed_edges,
    regional_stack,
)
from tests.support.topology import Topology
from tests.support.util import eventually


@pytest.fixture
def eu_stack(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    with regional_stack(tmp_path, {"eu": ["eu-1", "eu-2"]}) as stack:
        yield stack


async def token(cp: procs.Proc, meeting: str, headers: dict[str, str] | None = None, name: str = "") -> dict[str, Any]:
    """A join token as the control plane issues it (a guest's when *headers* is None)."""
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        body = {"region": "eu", **({"display_name": name} if name else {})}
        r = await http.post(f"/api/v1/meetings/{meeting}/join", json=body, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


async def seated(url: str, granted: dict[str, Any]) -> Client:
    c = await Client.open(url)
    first = await c.join(granted["token"], granted["meeting_id"])
    assert first["type"] == "joined", first
    return c


async def refused(url: str, granted: dict[str, Any], code: str) -> dict[str, Any]:
    c = await Client.open(url)
    try:
        first = await c.join(granted["token"], granted["meeting_id"])
        assert first["type"] == "error" and first["code"] == code and first["field"] in ("", "token"), first
        assert await c.is_open()   # a refused join leaves the socket open: the client may try another token
        return first
    finally:
        await c.close()


async def test_one_seat_per_token_and_the_entry_policy_at_the_edge(eu_stack) -> None:
    _topo, cp, _edges = eu_stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="both edges listed")
    admin = await admin_headers(cp)

    # -- a limit of 2, with three tokens issued before anyone joined ----------------------------------
    mid = await create_meeting(cp, admin, max_participants=2)
    host = await token(cp, mid, admin)
    ann, bob = await token(cp, mid, name="Ann"), await token(cp, mid, name="Bob")
    home = host["edge_url"]
    other = host["alternates"][0]["url"]            # the region's other edge accepts these tokens too
    h = await seated(other, host)                   # the host on the other edge: the meeting spans both
    a = await seated(home, ann)
    hid = h.joined["participant_id"]
    await eventually(lambda: hid in {p["participant_id"] for p in a.joined["roster"]} or
                     any(m["type"] == "participant_joined" and m["participant"]["participant_id"] == hid
                         for m in a.seen), timeout=10, what="Ann's edge knows the host on the other edge")
    full = await refused(home, bob, "meeting_full")
    assert full["message"] == "the meeting is full (2 of 2)"   # counted on both edges

    # -- the same token again: one seat, the first socket is told it was replaced --------------------
    a2 = await seated(home, ann)
    assert await a.closed(timeout=10) == (4013, "replaced: the same join token joined again")
    left = await h.expect("participant_left", timeout=10, participant_id=a.joined["participant_id"])
    assert left["reason"] == "replaced"
    await h.expect("participant_joined", timeout=10, where=lambda m: m["participant"]["participant_id"] ==
                   a2.joined["participant_id"])
    await refused(home, bob, "meeting_full")       # still two seats, not three

    # -- kicked: the token no longer joins, on its edge nor on the other one (told by the mesh) --------
    r = await cp_post(cp, f"/api/v1/meetings/{mid}/participants/{a2.joined['participant_id']}/kick", admin,
                      {"reason": "bye"})
    assert r.status_code == 200, r.text
    assert (await a2.closed(timeout=10))[0] == 4010
    again = await refused(home, ann, "kicked")
    assert again["message"] == "you were removed from this meeting: this join token no longer joins it"
    await eventually(lambda: any(m["type"] == "participant_left" and m["reason"] == "kicked" for m in h.seen),
                     timeout=10, what="the host's edge hears of the kick")
    await refused(other, ann, "kicked")            # failover with the same token is refused too
    await seated(home, bob)                        # the freed seat is taken by someone else's token

    # -- locking after a token was issued: that token is refused, a host's still joins ---------------
    mid2 = await create_meeting(cp, admin)
    host2, guest = await token(cp, mid2, admin), await token(cp, mid2, name="Gus")
    h2 = await seated(host2["edge_url"], host2)

    async def edge_takes_commands() -> bool:   # the edge subscribes to the new meeting's commands
        r = await cp_post(cp, f"/api/v1/meetings/{mid2}/participants/{h2.joined['participant_id']}/mute", admin,
                          {"kind": "screen"})
        return r.status_code == 200
    await eventually(edge_takes_commands, timeout=10, what="the edge hosting the meeting answers commands")
    r = await httpx.AsyncClient(base_url=cp.base_url, timeout=10).patch(f"/api/v1/meetings/{mid2}",
                                                                        json={"locked": True}, headers=admin)
    assert r.status_code == 200, r.text
    locked = await refused(guest["edge_url"], guest, "locked")
    assert locked["message"] == "the meeting is locked: only its hosts and moderators may join"
    await seated(host2["edge_url"], await token(cp, mid2, admin))
    r = await httpx.AsyncClient(base_url=cp.base_url, timeout=10).patch(f"/api/v1/meetings/{mid2}",
                                                                        json={"locked": False}, headers=admin)
    assert r.status_code == 200, r.text
    await seated(guest["edge_url"], guest)         # unlocked again: the same token joins

    # -- locked while no edge hosts the meeting: the edge that opens it reads the recorded policy ----
    mid3 = await create_meeting(cp, admin)
    early = await token(cp, mid3, name="Early")
    r = await httpx.AsyncClient(base_url=cp.base_url, timeout=10).patch(f"/api/v1/meetings/{mid3}",
                                                                        json={"locked": True}, headers=admin)
    assert r.status_code == 200, r.text
    await refused(early["edge_url"], early, "locked")
    await refused(early["alternates"][0]["url"], early, "locked")
    await seated(early["edge_url"], await token(cp, mid3, admin))   # the host opens it
    for c in (h, h2):
        await c.close()
