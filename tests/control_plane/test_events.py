"""Events from edges through JetStream: roster, attendance and meeting state, applied once each
(a real nats-server; events are published to the real CC_EVENTS stream)."""

from __future__ import annotations

from nodes import subjects, wire
from tests.control_plane.meetings_support import (
    FakeEdge,
    admin,
    create_meeting,
    edges,  # noqa: F401 - the fixture
    nats_client,
    nats_overrides,
    place,
    user,
    wait_edges,
    wait_ready,
)
from tests.support.util import eventually


async def roster(cp, meeting_id: str, headers: dict) -> dict:  # noqa: ANN001
    r = await cp.client.get(f"/api/v1/meetings/{meeting_id}/participants", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def attendance(cp, meeting_id: str, headers: dict) -> list[dict]:  # noqa: ANN001
    r = await cp.client.get(f"/api/v1/meetings/{meeting_id}/attendance", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def state(cp, meeting_id: str, headers: dict) -> str:  # noqa: ANN001
    return (await cp.client.get(f"/api/v1/meetings/{meeting_id}", headers=headers)).json()["state"]


async def test_events_build_the_roster_attendance_and_state(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        m = await create_meeting(cp, host, allow_guests=True, lobby=True)
        mid = m["id"]
        await place(nats_server.url, mid, "edge-a")
        edge = await edges("edge-a", heartbeat=False)
        consumer = cp.services.events

        async def send(event: wire.Event) -> None:
            before = consumer.applied
            await edge.publish(event)
            await eventually(lambda: consumer.applied > before, what=f"{type(event).__name__} applied")

        await send(wire.MeetingStarted(meeting_id=mid, edge_id="edge-a", epoch=1))
        assert await state(cp, mid, host) == "live"
        await send(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p-host",
                                          account_id="acc-h", display_name="Hanna", role="host"))
        await send(wire.LobbyWaiting(meeting_id=mid, edge_id="edge-a", participant_id="p-guest",
                                     account_id="guest:abc", display_name="Gary"))
        r = await roster(cp, mid, host)
        assert (r["state"], r["present"], r["waiting"]) == ("live", 1, 1)
        waiting = next(p for p in r["participants"] if p["participant_id"] == "p-guest")
        assert waiting["lobby"] is True and waiting["joined_at"] is None and waiting["waiting_since"]

        # Admitted: the same participant joins from the lobby.
        await send(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p-guest",
                                          account_id="guest:abc", display_name="Gary", role="guest"))
        await send(wire.TrackPublished(meeting_id=mid, edge_id="edge-a", participant_id="p-guest", track_id="t1",
                                       kind="audio", source="microphone"))
        await send(wire.ParticipantMuted(meeting_id=mid, edge_id="edge-a", participant_id="p-guest", kind="audio",
                                         by="acc-h"))
        r = await roster(cp, mid, host)
        assert (r["present"], r["waiting"]) == (2, 0)
        gary = next(p for p in r["participants"] if p["participant_id"] == "p-guest")
        assert gary["lobby"] is False and gary["role"] == "guest" and gary["edge_id"] == "edge-a"
        assert gary["muted"] == {"audio": True, "video": False, "screen": False}
        assert gary["tracks"] == [{"track_id": "t1", "kind": "audio", "source": "microphone"}]
        await send(wire.TrackUnpublished(meeting_id=mid, edge_id="edge-a", participant_id="p-guest", track_id="t1"))
        assert next(p for p in (await roster(cp, mid, host))["participants"]
                    if p["participant_id"] == "p-guest")["tracks"] == []

        await send(wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p-guest", reason="kicked"))
        r = await roster(cp, mid, host)
        assert [p["participant_id"] for p in r["participants"]] == ["p-host"]
        await send(wire.MeetingEnded(meeting_id=mid, edge_id="edge-a", reason="ended by host"))
        assert await state(cp, mid, host) == "ended"
        assert (await roster(cp, mid, host))["participants"] == []

        rows = await attendance(cp, mid, host)
        assert [(a["participant_id"], a["left_reason"]) for a in rows] == [("p-host", "ended"), ("p-guest", "kicked")]
        assert all(a["left_at"] and a["duration_s"] >= 0 for a in rows)
        assert rows[1]["display_name"] == "Gary" and rows[1]["account_id"] == "guest:abc"

        # Only those who manage the meeting see who is in it.
        for path in ("participants", "attendance"):
            r = await cp.client.get(f"/api/v1/meetings/{mid}/{path}", headers=member)
            assert r.status_code == 403 and "owner, its co-hosts and admins" in r.json()["detail"]


async def test_recording_events_say_since_when_a_meeting_is_recorded(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "rita", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        edge = await edges("edge-a", heartbeat=False)
        consumer = cp.services.events

        async def send(event: wire.Event) -> None:
            before = consumer.applied
            await edge.publish(event)
            await eventually(lambda: consumer.applied > before, what=f"{type(event).__name__} applied")

        async def since() -> str | None:
            return (await cp.client.get(f"/api/v1/meetings/{mid}", headers=host)).json()["recording_since"]

        await send(wire.MeetingStarted(meeting_id=mid, edge_id="edge-a", epoch=1))
        assert await since() is None
        await send(wire.RecordingStarted(meeting_id=mid, edge_id="edge-a", participant_id="rec", at=1_800_000_000.0))
        first = await since()
        assert first is not None and first.startswith("2027-01-15T08:00:00")
        await send(wire.RecordingStarted(meeting_id=mid, edge_id="edge-a", participant_id="rec2", at=1_800_000_060.0))
        assert await since() == first  # still the first
        await send(wire.RecordingStopped(meeting_id=mid, edge_id="edge-a", participant_id="rec"))
        assert await since() is None
        await send(wire.RecordingStarted(meeting_id=mid, edge_id="edge-a", participant_id="rec", at=1_800_000_100.0))
        await send(wire.MeetingEnded(meeting_id=mid, edge_id="edge-a", reason="ended by host"))
        assert await since() is None  # an ended meeting records nothing


async def test_an_event_delivered_twice_is_applied_once(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        edge = await edges("edge-a", heartbeat=False)
        consumer = cp.services.events
        joined = wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1", display_name="P")
        left = wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p1")
        # The same events stored twice in the stream (different message ids defeat JetStream's own
        # duplicate window, as a retry after that window would): the control plane applies each once.
        for event in (joined, joined, left, joined, left):
            await edge.publish(event, msg_id=wire.new_id())
        await eventually(lambda: consumer.applied + consumer.duplicates == 5, what="five deliveries handled")
        assert (consumer.applied, consumer.duplicates) == (2, 3)
        rows = await attendance(cp, mid, host)
        assert len(rows) == 1 and rows[0]["left_reason"] == "left"
        assert (await roster(cp, mid, host))["participants"] == []
        async with nats_client(nats_server.url) as nc:
            info = await nc.jetstream().consumer_info(subjects.EVENTS_STREAM, subjects.EVENTS_CONSUMER)
        assert info.num_ack_pending == 0 and info.num_pending == 0  # every delivery acknowledged


async def test_events_published_while_the_control_plane_is_down_are_read_later(control_plane, nats_server, edges) -> None:
    overrides = nats_overrides(nats_server.url)
    async with control_plane(**overrides) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
    await place(nats_server.url, mid, "edge-a")
    # While the control plane is stopped:
    edge = await edges("edge-a", heartbeat=False)
    await edge.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
    await edge.publish_raw(subjects.event("edge-a", mid, "joined"), b"not an event")  # dropped, not retried forever
    await edge.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p2"))
    async with control_plane(**overrides) as cp:  # same database, same durable consumer
        await wait_ready(cp)
        await eventually(lambda: cp.services.events.applied == 2, what="both joins applied after restart")
        r = await roster(cp, mid, await admin(cp))
        assert sorted(p["participant_id"] for p in r["participants"]) == ["p1", "p2"]
        assert r["state"] == "live"


async def test_an_empty_meeting_ends_after_the_timeout(control_plane, nats_server, edges) -> None:
    overrides = nats_overrides(nats_server.url, meetings={"empty_timeout": 0.5, "sweep_interval": 0.1})
    async with control_plane(**overrides) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        mid = (await create_meeting(cp, host))["id"]
        assert (await cp.client.post(f"/api/v1/meetings/{mid}/join", json={}, headers=host)).status_code == 200
        await edge.host(mid)
        await edge.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
        await eventually(_is(cp, mid, host, "live"), what="meeting live")
        await edge.publish(wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
        await eventually(_is(cp, mid, host, "ended"), timeout=5, what="empty meeting ended")
        ends = [c for c in edge.commands if isinstance(c, wire.EndMeeting)]
        assert len(ends) == 1 and ends[0].epoch == 1 and ends[0].reason == "the meeting was empty"
        [row] = await attendance(cp, mid, host)
        assert row["left_reason"] == "left"
        await edge.stop()


def _is(cp, mid: str, headers: dict, wanted: str):  # noqa: ANN001, ANN202
    async def check() -> bool:
        return await state(cp, mid, headers) == wanted
    return check


async def test_participants_of_a_lost_edge_are_lost_then_restored_or_removed(control_plane, nats_server,
                                                                             edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url, meetings={"sweep_interval": 0.1})) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        a = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        await a.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="join applied")

        async def p1(lost: bool) -> bool:
            r = await roster(cp, mid, host)
            return [(p["participant_id"], p["lost"]) for p in r["participants"]] == [("p1", lost)] and (
                r["present"] == (0 if lost else 1))

        async def empty_since() -> float | None:
            row = await cp.services.db.fetch_one("SELECT empty_since FROM meetings WHERE id = ?", (mid,))
            return row["empty_since"]

        await a.stop()  # missed heartbeats: out of the registry, its participants lost
        await eventually(lambda: p1(lost=True), timeout=5, what="p1 lost with its edge")
        assert await empty_since() is not None  # the empty-meeting timer runs
        await a.start()  # the same edge instance is back (a network blip): p1 is restored
        await eventually(lambda: p1(lost=False), timeout=5, what="p1 restored")
        assert await empty_since() is None

        await a.stop()
        await eventually(lambda: p1(lost=True), timeout=5, what="p1 lost again")
        await edges("edge-a")  # the edge restarted: a new instance knows nothing of p1

        async def gone() -> bool:
            return (await roster(cp, mid, host))["participants"] == []
        await eventually(gone, timeout=5, what="p1 removed after the edge restarted")
        [row] = await attendance(cp, mid, host)
        assert row["left_reason"] == "edge_lost"
        assert (await state(cp, mid, host)) == "live"


async def test_lost_participants_are_removed_after_the_timeout_and_the_meeting_ends(control_plane, nats_server,
                                                                                  edges) -> None:
    overrides = nats_overrides(nats_server.url, meetings={"sweep_interval": 0.1, "empty_timeout": 1.0})
    async with control_plane(**overrides) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        a = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        await a.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="join applied")
        await a.stop()  # gone for good
        await eventually(_is(cp, mid, host, "ended"), timeout=8, what="meeting ended")
        [row] = await attendance(cp, mid, host)
        assert row["left_reason"] == "edge_lost"


async def test_a_control_plane_cut_off_from_nats_ends_nothing(control_plane, nats_server, edges) -> None:
    import asyncio

    overrides = nats_overrides(nats_server.url, meetings={"sweep_interval": 0.1, "empty_timeout": 1.0})
    async with control_plane(**overrides) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        a = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        await a.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="join applied")

        nats_server.stop()  # the control plane sees no heartbeats: every edge leaves its registry
        await eventually(lambda: not cp.services.bus.connected and not cp.services.edges.live(), timeout=5,
                         what="cut off, registry empty")
        await asyncio.sleep(2.0)  # longer than empty_timeout: nothing may end meanwhile
        assert (await state(cp, mid, host)) == "live"
        nats_server.start()
        await eventually(lambda: cp.services.bus.connected and cp.services.edges.get("edge-a") is not None,
                         timeout=10, what="reconnected, edge back")
        await asyncio.sleep(2 * 1.0 + 0.5)  # past the grace after reconnecting
        r = await roster(cp, mid, host)
        assert r["state"] == "live" and [(p["participant_id"], p["lost"]) for p in r["participants"]] == [("p1", False)]


async def test_events_for_unknown_meetings_are_acknowledged_and_ignored(control_plane, nats_server, edges) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        await place(nats_server.url, "f" * 32, "edge-a")  # placed, but not (or no longer) in the database
        await (await edges("edge-a", heartbeat=False)).publish(wire.ParticipantJoined(meeting_id="f" * 32, edge_id="edge-a",
                                                                    participant_id="p1"))
        await eventually(lambda: cp.services.events.applied == 1, what="event handled")
        row = await cp.services.db.fetch_one("SELECT COUNT(*) AS n FROM roster")
        assert row["n"] == 0


async def test_region_events_reach_the_control_plane_through_the_hub_also_after_a_cut(control_plane, tmp_path) -> None:
    """The production layout: a hub (domain "hub") and regional leaves with their own JetStream,
    per-node users and permissions. Events stay in the region while its link is cut, and arrive
    once the link heals; heartbeats, placement and commands cross the link."""
    from tests.support.nats import nats_server_path
    from tests.support.topology import Topology
    from tests.support.util import require

    require(nats_server_path() is not None, "nats-server")
    (tmp_path / "nats").mkdir()
    topo = Topology(tmp_path / "nats", {"eu": ["eu-1"], "us": ["us-1"]}).start()
    opts = topo.edge_nats("eu-1")
    edge = FakeEdge(opts["servers"][0], "eu-1", region="eu", user=opts["user"], password=opts["password"],
                    inbox_prefix=opts["inbox_prefix"])
    us = topo.edge_nats("us-1")
    forger = FakeEdge(us["servers"][0], "us-1", region="us", user=us["user"], password=us["password"],
                      inbox_prefix=us["inbox_prefix"])
    try:
        async with control_plane(nats=topo.control_plane_nats(),
                                 events={"region_domains": ["eu", "us"], "placement_wait": 0.5},
                                 edges={"ttl": 2.0, "sweep_interval": 0.1}) as cp:
            await wait_ready(cp)
            await eventually(lambda: cp.services.events.regions.declared == {"eu", "us"}, timeout=15,
                             what="both regions' event streams declared")
            host = await user(cp, "hanna", "host")
            mid = (await create_meeting(cp, host))["id"]
            await edge.start()
            await wait_edges(cp, "eu-1")
            r = await cp.client.post(f"/api/v1/meetings/{mid}/join", json={}, headers=host)
            assert r.status_code == 200 and r.json()["edge_id"] == "eu-1", r.text

            await edge.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="eu-1", participant_id="p1"))
            await eventually(lambda: cp.services.events.applied == 1, timeout=10, what="region event applied")

            topo.regions["eu"].link.cut()
            # The region's own stream takes the event while the hub is unreachable.
            await edge.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="eu-1", participant_id="p2"))
            topo.regions["eu"].link.heal()
            await eventually(lambda: cp.services.events.applied == 2, timeout=20,
                             what="event stored during the cut applied after the heal")
            people = (await roster(cp, mid, host))["participants"]
            assert sorted(p["participant_id"] for p in people) == ["p1", "p2"]

            # us-1, with its own credentials (it may publish only as us-1), forges the end of the
            # meeting placed on eu-1: stored in its region, sourced to the hub, refused there.
            await forger.connect()
            await forger.publish(wire.MeetingEnded(meeting_id=mid, edge_id="us-1", reason="forged"))
            await eventually(lambda: cp.services.events.refused == 1, timeout=20, what="the forged end refused")
            assert (await roster(cp, mid, host))["state"] == "live" and cp.services.events.applied == 2

            # Commands reach the edge on its leaf, under the per-node permissions.
            await edge.host(mid)

            async def kicked() -> bool:
                r = await cp.client.post(f"/api/v1/meetings/{mid}/participants/p2/kick", headers=host)
                return r.status_code == 200
            await eventually(kicked, timeout=10, what="command answered across the leaf link")
            assert isinstance(edge.commands[-1], wire.Kick)
    finally:
        await edge.close()
        await forger.close()
        topo.stop()
