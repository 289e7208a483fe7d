"""Bad relay and mesh requests between edges get a reply that says what is wrong, and change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import nats
import pytest

from nodes import subjects, wire
from tests.edge.edge_support import MODERATOR, TokenKit
from tests.edge.mesh.cascade_support import join, same_roster
from tests.support.topology import Topology, nats_client


@pytest.fixture
async def as_us(topology: Topology) -> AsyncIterator[nats.NATS]:
    """A NATS client with edge us-1's user and inbox (what another edge may send)."""
    async with nats_client(topology.edge_nats("us-1")) as nc:
        yield nc


async def relay(nc: nats.NATS, verb: str, payload: bytes | msgspec.Struct, edge: str = "eu-1") -> wire.RelayReply:
    data = payload if isinstance(payload, bytes) else wire.encode(payload)
    reply = wire.relay_reply_decoder.decode((await nc.request(subjects.relay(edge, "us-1", verb), data, timeout=5)).data)
    assert isinstance(reply, wire.RelayReply) and not reply.ok and reply.edge_id == edge, reply
    return reply


async def test_bad_relay_requests_are_refused_with_the_reason(pair, tokens: TokenKit, as_us: nats.NATS) -> None:
    eu, us = pair
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")   # us-1 is part of the meeting (its mesh): relay requests are heard
    await same_roster([ada, bob], ["Ada", "Bob"])
    meeting = eu.node.conference.meetings["meet-1"]
    assert "bad relay request" in (await relay(as_us, "want", b"{not json")).error
    assert "Object missing required field `meeting_id`" in (await relay(as_us, "want", b'{"type":"relay.want"}')).error
    offer = wire.RelayOffer(meeting_id="meet-1", edge_id="us-1", sdp="v=0")
    assert (await relay(as_us, "want", offer)).error == "RelayOffer does not belong on cc.relay.e.eu-1.us-1.want"
    other = wire.RelayWant(meeting_id="elsewhere", edge_id="us-1", tracks=["TR_1"])
    assert (await relay(as_us, "want", other)).error == "meeting 'elsewhere' is not hosted on edge eu-1"
    # us-1's user publishes only as us-1: a payload naming another sender is refused
    forged = wire.RelayWant(meeting_id="meet-1", edge_id="eu-1", tracks=["TR_1"])
    assert (await relay(as_us, "want", forged)).error == "the sender 'eu-1' is not the subject's edge 'us-1'"
    bad_sdp = wire.RelayOffer(meeting_id="meet-1", edge_id="us-1", sdp="hello")
    assert (await relay(as_us, "offer", bad_sdp)).error.startswith("relay offer refused: the offer is not SDP")
    assert meeting.room.relays.out == {} and meeting.room.relays.inbound == {} and not meeting.room.sources
    # tracks that are not this edge's own are not relayed: the reply says which ones will be
    want = wire.RelayWant(meeting_id="meet-1", edge_id="us-1", tracks=["TR_unknown"])
    reply = wire.relay_reply_decoder.decode((await as_us.request(subjects.relay("eu-1", "us-1", "want"), wire.encode(want),
                                                                 timeout=5)).data)
    assert (reply.ok, reply.accepted) == (True, [])
    assert us.node.mesh.served == 0


async def test_bad_moderator_actions_from_another_edge_are_refused(pair, tokens: TokenKit, as_us: nats.NATS) -> None:
    eu, us = pair
    ada = await join(eu, tokens, "Ada", ep=2)
    mo = await join(us, tokens, "Mo", perms=MODERATOR, ep=2)
    await same_roster([ada, mo], ["Ada", "Mo"])

    async def act(**over: object) -> wire.MeshReply:
        fields = {"meeting_id": "meet-1", "epoch": 2, "edge_id": "us-1", "action": "mute",
                  "participant_id": ada.joined["participant_id"], "target_edge": "eu-1", "source": "camera", **over}
        msg = await as_us.request(subjects.mesh("meet-1", "us-1", "signal"), wire.encode(wire.MeshAction(**fields)), timeout=5)
        reply = wire.mesh_reply_decoder.decode(msg.data)
        assert isinstance(reply, wire.MeshReply) and reply.edge_id == "eu-1", reply
        return reply

    assert (await act(participant_id="nobody")).error == "no participant 'nobody' in this meeting"
    assert (await act(source="tail")).error == "unknown source 'tail' (microphone, camera or screen)"
    assert (await act(epoch=1)).error == "stale epoch 1 (the meeting is at 2)"
    assert (await act(action="admit")).error == f"participant {ada.joined['participant_id']!r} is not waiting in the lobby"
    assert not [m for m in ada.seen if m["type"] == "muted"]
    ok = await act()
    assert ok.ok and (await ada.expect("muted", timeout=5))["source"] == "camera"
    bad = b'{"type":"mesh.action","meeting_id":"meet-1","edge_id":"us-1","action":"explode",' \
          b'"participant_id":"p","target_edge":"eu-1"}'
    reply = wire.mesh_reply_decoder.decode((await as_us.request(subjects.mesh("meet-1", "us-1", "signal"), bad,
                                                                timeout=5)).data)
    assert not reply.ok and "bad mesh message: Invalid enum value 'explode'" in reply.error
