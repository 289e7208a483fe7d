"""Events speak for a meeting only from an edge the meeting is placed on (a real nats-server, the
real CC_EVENTS stream and placement bucket): forged events change nothing and are logged."""

from __future__ import annotations

import logging

from nodes import subjects, wire
from tests.control_plane.meetings_support import (
    create_meeting,
    edges,  # noqa: F401 - the fixture
    nats_overrides,
    place,
    user,
    wait_ready,
)
from tests.support.records import Records
from tests.support.util import eventually


def consumer_logs() -> Records:
    return Records("control_plane.events.consumer")


def refusals(records: list[logging.LogRecord]) -> list[tuple[str, str, str]]:
    return [(r.meeting, r.edge, r.reason) for r in records  # type: ignore[attr-defined]
            if r.getMessage() == "event refused" and r.levelno == logging.WARNING]


async def meeting_state(cp, mid: str, headers: dict) -> str:  # noqa: ANN001
    return (await cp.client.get(f"/api/v1/meetings/{mid}", headers=headers)).json()["state"]


async def present(cp, mid: str, headers: dict) -> list[str]:  # noqa: ANN001
    r = await cp.client.get(f"/api/v1/meetings/{mid}/participants", headers=headers)
    return sorted(p["participant_id"] for p in r.json()["participants"])


async def test_a_forged_end_from_an_edge_the_meeting_is_not_placed_on_changes_nothing(control_plane, nats_server,
                                                                                      edges) -> None:  # noqa: F811
    overrides = nats_overrides(nats_server.url, events={"placement_wait": 0.5})
    async with control_plane(**overrides) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        other = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "edge-a")
        home = await edges("edge-a", heartbeat=False)
        intruder = await edges("edge-x", heartbeat=False)  # an edge (its own credentials) the meeting is not on
        consumer = cp.services.events
        with consumer_logs() as logs:
            await home.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p1"))
            await eventually(lambda: consumer.applied == 1, what="the home edge's join applied")
            assert await meeting_state(cp, mid, host) == "live"

            # Under its own id, for a meeting placed elsewhere: held back while placement may catch
            # up, then refused.
            await intruder.publish(wire.MeetingEnded(meeting_id=mid, edge_id="edge-x", reason="forged"))
            await intruder.publish(wire.ParticipantLeft(meeting_id=mid, edge_id="edge-x", participant_id="p1"))
            # For a meeting placed nowhere: refused at once.
            await intruder.publish(wire.MeetingStarted(meeting_id=other, edge_id="edge-x"))
            # Naming the home edge in the payload, under its own subject: refused at once.
            await intruder.publish_raw(subjects.event("edge-x", mid, "ended"),
                                       wire.encode(wire.MeetingEnded(meeting_id=mid, edge_id="edge-a")))
            await eventually(lambda: consumer.refused == 4, timeout=10, what="four forged events refused")
            assert sorted(refusals(logs)) == sorted([
                (mid, "edge-x", f"meeting {mid!r} is not placed on edge 'edge-x' (waited 0.5 s for its placement)"),
                (mid, "edge-x", f"meeting {mid!r} is not placed on edge 'edge-x' (waited 0.5 s for its placement)"),
                (other, "edge-x", f"meeting {other!r} is not placed on any edge"),
                (mid, "edge-a", "the sender 'edge-a' is not the subject's edge 'edge-x'"),
            ])
            assert await meeting_state(cp, mid, host) == "live"
            assert await present(cp, mid, host) == ["p1"]
            assert await meeting_state(cp, other, host) == "scheduled"
            assert consumer.applied == 1
            # The home edge is still heard.
            await home.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p2"))
            await eventually(lambda: consumer.applied == 2, what="the home edge's next join applied")
            assert await present(cp, mid, host) == ["p1", "p2"]


async def test_an_edge_the_meeting_moves_to_is_heard_once_placement_names_it_and_the_old_one_still(
        control_plane, nats_server, edges) -> None:  # noqa: F811
    """Failover: participants reach the region's next edge before the control plane re-homes the
    meeting there; their events wait for the placement instead of being lost. Events the old edge
    stored before (e.g. in its region during a cut) are still applied afterwards."""
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        await place(nats_server.url, mid, "eu-1", region="eu")
        eu1 = await edges("eu-1", heartbeat=False)
        eu2 = await edges("eu-2", heartbeat=False)
        consumer = cp.services.events
        await eu2.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="eu-2", participant_id="p-moved"))
        await eventually(lambda: consumer.authority._waiting, what="the alternate's event held back")
        assert consumer.applied == 0 and await present(cp, mid, host) == []
        await place(nats_server.url, mid, "eu-2", region="eu")  # the re-home
        await eventually(lambda: consumer.applied == 1, timeout=10, what="the held-back event applied")
        await eu1.publish(wire.ParticipantJoined(meeting_id=mid, edge_id="eu-1", participant_id="p-late"))
        await eventually(lambda: consumer.applied == 2, what="the former home's event applied")
        assert await present(cp, mid, host) == ["p-late", "p-moved"]
        assert consumer.refused == 0
