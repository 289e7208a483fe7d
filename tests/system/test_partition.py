"""A region cut off from the hub, with real processes: NATS hub + leaves "eu" and "us" (each node
its own user and subject permissions, as in configs/), the control plane on the hub sourcing each
region's events, an edge per region on its leaf, and participants with real aiortc media.

While eu's link is cut the meeting on eu-1 goes on, a token issued before the cut still gets a
newcomer in (keys cached on the edge), and participants join and leave — their events are kept
in eu's own stream. The control plane meanwhile drops eu-1 from its registry (its participants
are shown as lost), leaves the meeting's placement alone, and places a new eu meeting on us-1.
Once the link heals, eu-1 is back, the lost participants are restored, and every event of the
cut reaches the control plane exactly once (docs/regions.md, Partitions)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from control_plane.placement.choose import Placement
from nodes import subjects
from tests.support import procs
from tests.support.participant import Participant
from tests.support.regional import (
    PlacementReader,
    admin_headers,
    cp_get,
    cp_post,
    create_meeting,
    listed_edges,
    regional_stack,
)
from tests.support.topology import Topology
from tests.support.util import eventually


async def stream_events(opts: dict[str, Any], meeting_id: str, domain: str | None = None) -> list[dict[str, Any]]:
    """The events of *meeting_id* in the ``CC_EVENTS`` stream reached with *opts*, in stream order."""
    nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                            inbox_prefix=opts["inbox_prefix"], allow_reconnect=False)
    try:
        js = nc.jetstream(domain=domain, timeout=3)
        state = (await js.stream_info(subjects.EVENTS_STREAM)).state
        out = []
        for seq in range(state.first_seq, state.last_seq + 1):
            msg = await js.get_msg(subjects.EVENTS_STREAM, seq)
            parsed = subjects.parse_event(msg.subject)
            if parsed is not None and parsed[1] == meeting_id:
                out.append({**json.loads(msg.data), "subject": msg.subject})
        return out
    finally:
        await nc.close()


def people(events: list[dict[str, Any]], kind: str) -> list[str]:
    return sorted(e.get("display_name") or e["participant_id"] for e in events if e["subject"].endswith("." + kind))


@pytest.fixture
def regions(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    with regional_stack(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]}, observer=True) as stack:
        yield stack


async def test_a_region_cut_off_keeps_meeting_and_its_events_arrive_once_after(regions) -> None:  # noqa: ANN001
    topo, cp, edges = regions
    await eventually(lambda: listed_edges(cp) == ["eu-1", "us-1"], timeout=20, what="both edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin)
    ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
    bob = await Participant.join(cp.base_url, mid, "Bob", region="eu")
    late = [await Participant.grant(cp.base_url, mid, name, region="eu") for name in ("Cy", "Dee")]
    placement = await PlacementReader().open(topo)
    everyone = [ann, bob]
    try:
        assert ann.edge.edge_id == bob.edge.edge_id == "eu-1" and all(g["edge_id"] == "eu-1" for g in late)
        await ann.publish()
        await bob.publish()
        for p in (ann, bob):
            await p.wait_frames(15)

        async def roster() -> dict:
            return await cp_get(cp, f"/api/v1/meetings/{mid}/participants", admin)

        async def present(*names: str) -> dict:
            r = await roster()
            shown = sorted(p["display_name"] for p in r["participants"] if not p["lost"])
            return r if shown == sorted(names) else {}
        await eventually(lambda: present("Ann", "Bob"), timeout=20, what="Ann and Bob in the roster")

        topo.regions["eu"].link.cut()
        cut = time.monotonic()
        # The meeting goes on in the region, and a token issued before the cut still opens the door.
        cy = await Participant.connect(late[0]["token"], late[0]["edge_url"], late[0]["alternates"])
        dee = await Participant.connect(late[1]["token"], late[1]["edge_url"], late[1]["alternates"])
        everyone += [cy, dee]
        for p in (ann, bob):
            await p.wait_frames(30, since=cut)
        await cy.wait_frames(25, kind="audio")
        await cy.close()  # Cy leaves during the cut; Dee stays

        # The control plane: eu-1 leaves its registry, its participants are lost, nothing moves.
        await eventually(lambda: listed_edges(cp) == ["us-1"], timeout=15, interval=0.1, what="eu-1 out of the registry")
        noticed = time.monotonic() - cut
        r = await eventually(lambda: present(), timeout=10, what="Ann and Bob lost")
        assert sorted((p["display_name"], p["lost"]) for p in r["participants"]) == [("Ann", True), ("Bob", True)]
        assert await placement.get(mid) == Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})
        mute = f"/api/v1/meetings/{mid}/participants/{ann.participant_id}/mute"
        r = await cp_post(cp, mute, admin, {"kind": "video"})  # commands cannot reach the region
        assert r.status_code == 503 and "no edge hosts this meeting" in r.text, r.text
        elsewhere = await Participant.grant(cp.base_url, await create_meeting(cp, admin), "Eve", region="eu")
        assert (elsewhere["edge_id"], elsewhere["region"], elsewhere["alternates"]) == ("us-1", "eu", [])

        # What happened meanwhile is in eu's own stream, and not yet at the hub.
        in_region = await stream_events(topo.observer_nats("eu"), mid)
        assert people(in_region, "joined") == ["Ann", "Bob", "Cy", "Dee"]
        assert [e["participant_id"] for e in in_region if e["subject"].endswith(".left")] == [cy.participant_id]
        at_hub = await stream_events(topo.control_plane_nats(), mid, domain="hub")
        assert people(at_hub, "joined") == ["Ann", "Bob"]
        frames_before_heal = ann.frames_since(cut)

        topo.regions["eu"].link.heal()
        healed = time.monotonic()
        await eventually(lambda: listed_edges(cp) == ["eu-1", "us-1"], timeout=30, interval=0.1, what="eu-1 back")
        back = time.monotonic() - healed
        r = await eventually(lambda: present("Ann", "Bob", "Dee"), timeout=30, what="restored, and Dee shown")
        assert r["present"] == 3 and all(p["edge_id"] == "eu-1" for p in r["participants"])
        caught_up = time.monotonic() - healed

        at_hub = await stream_events(topo.control_plane_nats(), mid, domain="hub")
        ids = [e["event_id"] for e in at_hub]
        assert len(ids) == len(set(ids)), "an event reached the hub twice"
        in_region = await stream_events(topo.observer_nats("eu"), mid)
        assert sorted(ids) == sorted(e["event_id"] for e in in_region)  # every one of them, once
        rows = await cp_get(cp, f"/api/v1/meetings/{mid}/attendance", admin)
        assert sorted((a["display_name"], a["left_reason"] or "") for a in rows) == \
            [("Ann", ""), ("Bob", ""), ("Cy", "left"), ("Dee", "")]
        r = await cp_post(cp, mute, admin, {"kind": "audio"})  # and now they can
        assert r.status_code == 200 and r.json()["edge_id"] == "eu-1", r.text
        await ann.wait_frames(10, since=time.monotonic())
        assert ann.frames_since(cut) > frames_before_heal
        print("\npartition:", json.dumps({
            "registry_noticed_s": round(noticed, 2), "cut_s": round(healed - cut, 2),
            "edge_back_after_heal_s": round(back, 2),
            "roster_caught_up_after_heal_s": round(caught_up, 2), "events_of_the_meeting": len(ids),
            "video_frames_during_cut": {p.name: p.frames_since(cut) - p.frames_since(healed) for p in (ann, bob)}}))
        assert noticed <= 9.0
    finally:
        await placement.close()
        for p in everyone:
            await p.close()
