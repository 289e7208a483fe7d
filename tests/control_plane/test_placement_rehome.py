"""Placement over a real nats-server: the region header, and meetings re-homed as soon as an edge
leaves the registry (edges heartbeat and publish their participants' events over NATS)."""

from __future__ import annotations

import logging
import time

import msgspec
import nats

from control_plane.placement.choose import Placement, rendezvous
from nodes import subjects, wire
from tests.control_plane.meetings_support import (
    FakeEdge,
    create_meeting,
    edges,  # noqa: F401 - the fixture
    field_names,
    nats_overrides,
    place,
    user,
    wait_edges,
    wait_ready,
)
from tests.control_plane.test_events import attendance, roster
from tests.support.records import Records
from tests.support.util import eventually


async def join(cp, meeting_id: str, headers: dict, **body):  # noqa: ANN001, ANN201
    return await cp.client.post(f"/api/v1/meetings/{meeting_id}/join", json=body, headers=headers)


async def test_the_region_comes_from_the_body_then_the_header_then_the_address(control_plane, nats_server,
                                                                               edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url), default_region="us") as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        await edges("eu-1", region="eu")
        await edges("us-1", region="us")
        await wait_edges(cp, "eu-1", "us-1")
        m = await create_meeting(cp, host)
        r = await join(cp, m["id"], {**host, "X-CC-Region": "eu"})
        assert (r.json()["edge_id"], r.json()["region"]) == ("eu-1", "eu")
        r = await join(cp, m["id"], {**host, "X-CC-Region": "eu"}, region="us")  # the body wins
        assert (r.json()["edge_id"], r.json()["region"]) == ("us-1", "us")
        assert (await join(cp, m["id"], host)).json()["region"] == "us"  # the default
        r = await join(cp, m["id"], {**host, "X-CC-Region": "eu.*"})
        assert r.status_code == 400 and field_names(r) == ["X-CC-Region"], r.text
        assert "region name" in r.json()["detail"]


async def test_an_edge_that_leaves_takes_its_meetings_along_at_once(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url, edges={"ttl": 1.0, "sweep_interval": 0.1})) as cp:
        await wait_ready(cp)
        placement_log = logging.getLogger("control_plane.placement")
        level = placement_log.level
        placement_log.setLevel(logging.INFO)
        try:
            with Records("control_plane.placement") as logs:
                await _rehome_scenario(cp, edges, nats_server, logs)
        finally:
            placement_log.setLevel(level)


async def _rehome_scenario(cp, edges, nats_server, logs: list[logging.LogRecord]) -> None:  # noqa: ANN001
    host = await user(cp, "hanna", "host")
    eu1 = await edges("eu-1", region="eu", cpu_pct=1)
    for e in ("eu-2", "eu-3"):
        await edges(e, region="eu", cpu_pct=50)
    await edges("us-1", region="us", cpu_pct=1)
    await wait_edges(cp, "eu-1", "eu-2", "eu-3", "us-1")
    busy = await create_meeting(cp, host)      # home eu-1, people in it
    idle = await create_meeting(cp, host)      # home eu-1, nobody in it
    abroad = await create_meeting(cp, host)    # home us-1, an eu site on eu-1
    first = (await join(cp, busy["id"], host, region="eu")).json()
    assert first["edge_id"] == "eu-1" and first["epoch"] == 1
    survivors = [e.heartbeat.edge_id for e in rendezvous(busy["id"], [cp.services.edges.get(x)
                                                                       for x in ("eu-2", "eu-3")])]
    assert [a["edge_id"] for a in first["alternates"]] == survivors  # where its clients go first
    assert (await join(cp, idle["id"], host, region="eu")).json()["edge_id"] == "eu-1"
    assert (await join(cp, abroad["id"], host, region="us")).json()["edge_id"] == "us-1"
    assert (await join(cp, abroad["id"], host, region="eu")).json()["edge_id"] == "eu-1"

    consumer = cp.services.events
    for mid, pid, at_edge in ((busy["id"], "p1", "eu-1"), (abroad["id"], "p2", "eu-1"), (abroad["id"], "p3", "us-1")):
        await eu1.publish(wire.ParticipantJoined(meeting_id=mid, edge_id=at_edge, participant_id=pid,
                                                 account_id=f"acc-{pid}", display_name=pid, role="member"))
    await eventually(lambda: consumer.applied >= 3, what="joins applied")

    await eu1.stop()  # no goodbye: it expires from the registry
    stopped = time.monotonic()

    nc = await nats.connect(nats_server.url)  # read the bucket as any other control plane would
    kv = await nc.jetstream().key_value(subjects.PLACEMENT_BUCKET)

    async def entry(meeting_id: str) -> Placement:
        return msgspec.json.decode((await kv.get(meeting_id)).value, type=Placement)

    async def busy_moved() -> bool:
        return (await entry(busy["id"])).epoch == 2
    await eventually(busy_moved, timeout=6, interval=0.05, what="the busy meeting re-homed")
    print(f"re-homed {time.monotonic() - stopped:.2f} s after the edge's last heartbeat (registry TTL 1 s)")
    assert await entry(busy["id"]) == Placement(edge_id=survivors[0], region="eu", epoch=2,
                                                sites={"eu": survivors[0]})
    moved_abroad = await entry(abroad["id"])
    abroad_first = rendezvous(abroad["id"], [cp.services.edges.get(x) for x in ("eu-2", "eu-3")])[0]
    assert moved_abroad == Placement(edge_id="us-1", region="us", epoch=1,
                                     sites={"us": "us-1", "eu": abroad_first.heartbeat.edge_id})
    assert await entry(idle["id"]) == Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})
    messages = [r for r in logs if r.getMessage() == "meeting re-homed"]
    assert [(r.meeting_id, r.moved_from, r.edge_id, r.epoch) for r in messages] == \
        [(busy["id"], "eu-1", survivors[0], 2)]
    assert cp.services.extra["rehomer"].moved == 2
    # A join now lands where the meeting went.
    again = (await join(cp, busy["id"], host, region="eu")).json()
    assert (again["edge_id"], again["epoch"]) == (survivors[0], 2)
    await nc.close()


async def test_a_participant_who_reconnected_elsewhere_has_moved_not_lost(control_plane, nats_server,
                                                                          edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url, edges={"ttl": 1.0, "sweep_interval": 0.1})) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        eu1: FakeEdge = await edges("eu-1", region="eu")
        await edges("eu-2", region="eu")
        await wait_edges(cp, "eu-1", "eu-2")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "eu-1", region="eu")
        consumer = cp.services.events

        async def send(edge_id: str, pid: str, account: str, *, wait: bool = True) -> None:
            before = consumer.applied
            await eu1.publish(wire.ParticipantJoined(meeting_id=mid, edge_id=edge_id, participant_id=pid,
                                                     account_id=account, display_name=pid, role="member"))
            if wait:
                await eventually(lambda: consumer.applied > before, what=f"{pid} applied")

        for pid in ("ann", "bob", "cid"):
            await send("eu-1", pid, f"acc-{pid}")
        # Ann's client reconnected to eu-2 before eu-1 was noticed gone: the event waits until the
        # meeting is re-homed to eu-2 (its placement names eu-1 until then)
        await send("eu-2", "ann-2", "acc-ann", wait=False)
        await eu1.stop()
        await eventually(lambda: cp.services.edges.get("eu-1") is None, timeout=5, what="eu-1 expired")

        async def settled() -> dict:
            r = await roster(cp, mid, host)
            lost = {p["participant_id"]: p["lost"] for p in r["participants"]}
            return r if lost == {"ann-2": False, "bob": True, "cid": True} else {}
        r = await eventually(settled, timeout=5, what="Ann moved, Bob and Cid lost")
        assert r["present"] == 1
        await send("eu-2", "bob-2", "acc-bob")   # Bob comes back after the loss was noticed
        r = await roster(cp, mid, host)
        assert {p["participant_id"]: p["lost"] for p in r["participants"]} == \
            {"ann-2": False, "bob-2": False, "cid": True}
        rows = {a["participant_id"]: (a["edge_id"], a["left_reason"]) for a in await attendance(cp, mid, host)}
        assert rows == {"ann": ("eu-1", "moved"), "bob": ("eu-1", "moved"), "cid": ("eu-1", None),
                        "ann-2": ("eu-2", None), "bob-2": ("eu-2", None)}


async def test_an_edge_restarted_before_the_registry_dropped_it_has_left(control_plane, nats_server,
                                                                         edges) -> None:
    """A killed worker started again at once by its supervisor heartbeats with a new ``started_at``
    before the registry's TTL runs out: its meetings move to where their clients failed over (the
    first alternate), so that edge's mesh messages and events are its own, and the old instance's
    participants are lost, then gone — one who rejoined elsewhere has moved."""
    async with control_plane(**nats_overrides(nats_server.url, edges={"ttl": 30.0, "sweep_interval": 0.1}),
                             meetings={"sweep_interval": 0.2}) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        w1: FakeEdge = await edges("w1", region="eu")
        await edges("w2", region="eu")
        await wait_edges(cp, "w1", "w2")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "w1", region="eu")
        consumer = cp.services.events
        for pid in ("ann", "bob"):
            before = consumer.applied
            await w1.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="w1", participant_id=pid,
                                                    account_id=f"acc-{pid}", display_name=pid, role="member"))
            await eventually(lambda before=before: consumer.applied > before, what=f"{pid} applied")

        w1.started_at += 3.0  # the same edge id, a new process: its next heartbeat says so
        nc = await nats.connect(nats_server.url)
        kv = await nc.jetstream().key_value(subjects.PLACEMENT_BUCKET)

        async def moved() -> Placement | None:
            entry = msgspec.json.decode((await kv.get(mid)).value, type=Placement)
            return entry if entry.edge_id == "w2" else None
        entry = await eventually(moved, timeout=5, what="the meeting re-homed off the restarted edge")
        assert entry == Placement(edge_id="w2", region="eu", epoch=2, sites={"eu": "w2"})
        assert cp.services.edges.get("w1") is not None  # the edge itself is live, as a new instance
        before = consumer.applied
        await w1.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="w2", participant_id="ann-2",
                                                account_id="acc-ann", display_name="ann", role="member"))
        await eventually(lambda: consumer.applied > before, what="Ann's join on w2 applied")

        async def gone() -> dict:
            r = await roster(cp, mid, host)
            return r if {p["participant_id"] for p in r["participants"]} == {"ann-2"} else {}
        await eventually(gone, timeout=5, what="the old instance's participants gone")
        rows = {a["participant_id"]: (a["edge_id"], a["left_reason"]) for a in await attendance(cp, mid, host)}
        assert rows == {"ann": ("w1", "moved"), "bob": ("w1", "edge_lost"), "ann-2": ("w2", None)}
        await nc.close()
