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

import pytest

from control_plane.placement.choose import Placement
from tests.support import procs
from tests.support.participant import Participant, reconnect_delays
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


def new_tracks_restored_at(p: Participant, after: float) -> float | None:
    """When the first video frame arrived on a track first seen after *after* (media from the new edge)."""
    firsts = [s.first_at for s in p.tracks.values() if s.kind == "video" and s.first_at and s.first_at > after]
    return min(firsts, default=None)


# -- the test ---------------------------------------------------------------------------------------
@pytest.fixture
def eu_stack(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    with regional_stack(tmp_path, {"eu": ["eu-1", "eu-2"]}) as stack:
        yield stack


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
