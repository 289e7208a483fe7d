"""Moderation, the lobby, the end for all, the active speaker and the relays' life across two real
edges (eu-1, us-1) of one meeting."""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.edge.edge_support import MODERATOR, VIEWER, TokenKit
from tests.edge.mesh.cascade_support import join, pid, same_roster
from tests.edge.sfu.client import ToneTrack
from tests.edge.test_media import MediaClient
from tests.support.util import eventually


async def test_mute_promote_and_the_end_for_all_cross_edges(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([mo, ada, bob], ["Mo", "Ada", "Bob"])
    await mo.send({"type": "mute", "id": "m", "participant_id": pid(bob), "source": "microphone"})
    await mo.expect("ok", re="m", timeout=10)
    told = await bob.expect("muted", timeout=10)
    assert (told["source"], told["muted"], told["by"]) == ("microphone", True, pid(mo))
    seen = await ada.expect("muted", timeout=10)        # eu-1 learns it from us-1's state
    assert (seen["participant_id"], seen["muted"], seen["by"]) == (pid(bob), True, pid(mo))
    await mo.send({"type": "mute", "id": "u", "participant_id": pid(bob), "source": "microphone", "muted": False})
    assert "only the participant" in (await mo.error("forbidden"))["message"]
    await ada.send({"type": "kick", "id": "k", "participant_id": pid(bob)})
    assert "only moderators" in (await ada.error("forbidden"))["message"]
    await mo.send({"type": "promote", "id": "p", "participant_id": pid(bob)})
    await mo.expect("ok", re="p", timeout=10)
    for c in (mo, ada, bob):
        updated = await c.expect("participant_updated", timeout=10)
        assert (updated["participant"]["participant_id"], updated["participant"]["moderator"]) == (pid(bob), True)
    await bob.send({"type": "end_meeting", "reason": "done"})   # Bob, now a moderator on us-1, ends it for all
    for c in (mo, ada, bob):
        ended = await c.expect("meeting_ended", timeout=10)
        assert (ended["by"], ended["reason"]) == (pid(bob), "done")
        assert await c.closed(timeout=10) == (4011, "done")
    await eventually(lambda: eu.node.conference.meetings == {} and us.node.conference.meetings == {},
                     what="the meeting closed on both edges")


async def test_a_guest_on_another_edge_is_not_promoted(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    gus = await join(us, tokens, "Gus", role="guest", sub="guest:g1")
    await same_roster([mo, gus], ["Mo", "Gus"])
    await mo.send({"type": "promote", "id": "p", "participant_id": pid(gus)})
    assert "a guest cannot be promoted" in (await mo.error("forbidden", timeout=10))["message"]
    await gus.send({"type": "kick", "id": "k", "participant_id": pid(mo)})
    assert "only moderators" in (await gus.error("forbidden"))["message"]
    assert us.node.conference.meetings[gus.joined["meeting"]["meeting_id"]].participants[pid(gus)].moderator is False


async def test_the_lobby_of_another_edge_is_moderated_here(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    bob = await join(us, tokens, "Bob")
    gus = await join(us, tokens, "Gus", lobby=True)
    gil = await join(us, tokens, "Gil", lobby=True)
    await eventually(lambda: any({e["name"] for e in m["waiting"]} == {"Gus", "Gil"}
                                 for m in mo.seen if m["type"] == "lobby"), timeout=10,
                     what="the moderator on eu-1 sees us-1's lobby")
    await mo.send({"type": "admit", "id": "b", "participant_id": pid(bob)})
    assert "not waiting in the lobby" in (await mo.error("invalid"))["message"]
    await mo.send({"type": "admit", "id": "a", "participant_id": gus.seen[0]["participant_id"]})
    await mo.expect("ok", re="a", timeout=10)
    assert (await gus.expect("admitted", timeout=10))["by"] == pid(mo)
    gus.joined = await gus.expect("joined")
    await mo.expect("participant_joined", timeout=10, where=lambda m: m["participant"]["name"] == "Gus")
    await mo.send({"type": "deny", "id": "d", "participant_id": gil.seen[0]["participant_id"], "reason": "no"})
    await mo.expect("ok", re="d", timeout=10)
    await gil.expect("denied", timeout=10)
    assert (await gil.closed(timeout=10))[0] == 4012
    await eventually(lambda: [e["name"] for e in [m for m in mo.seen if m["type"] == "lobby"][-1]["waiting"]] == [],
                     timeout=10, what="the lobby is empty again")
    await same_roster([mo, bob, gus], ["Mo", "Bob", "Gus"])


async def publish_tone(c: MediaClient) -> RTCPeerConnection:
    """Publish a loud microphone (a 440 Hz tone: aiortc puts its level in each packet)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(ToneTrack(speaking=True), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await c.c.send({"type": "offer", "id": "pub", "pc": "publish", "sdp": pc.localDescription.sdp,
                    "sources": {pc.getTransceivers()[0].mid: "microphone"}})
    answer = await c.c.expect("answer", re="pub", timeout=15)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc


async def test_the_active_speaker_on_another_edge_is_heard_from_relayed_audio_levels(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada = MediaClient(await join(eu, tokens, "Ada"))
    bob = MediaClient(await join(us, tokens, "Bob", perms=VIEWER))
    pc = None
    try:
        await same_roster([ada.c, bob.c], ["Ada", "Bob"])
        pc = await publish_tone(ada)
        speaker = await bob.c.expect("active_speaker", timeout=30)
        assert speaker["participant_id"] == ada.id        # us-1 decided it from the levels relayed by eu-1
        assert bob.decoded("audio") > 0
    finally:
        if pc is not None:
            await pc.close()
        for c in (ada, bob):
            await c.close()


async def test_relays_exist_only_while_someone_receives(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada = MediaClient(await join(eu, tokens, "Ada"))
    norm = await join(us, tokens, "Norm", perms={"chat": True, "subscribe": False})
    bob = None
    try:
        await ada.publish()
        await same_roster([ada.c, norm], ["Ada", "Norm"])
        await eventually(lambda: len(us.node.mesh.meetings["meet-1"].edges.get("eu-1").tracks) == 2, timeout=10,
                         what="us-1 knows Ada's tracks")
        mm = us.node.mesh.meetings["meet-1"]
        for _ in range(3):                                   # a few rounds of states: still nothing asked
            sent = mm.states_sent
            await eventually(lambda: mm.states_sent > sent, timeout=5, what="another state")
        assert mm.wants.asks == 0 and eu.node.conference.meetings["meet-1"].room.relays.out == {}
        bob = MediaClient(await join(us, tokens, "Bob", perms=VIEWER))
        await eventually(lambda: bob.decoded("video") >= 5, timeout=40, interval=0.2, what="Bob decodes Ada")
        relay = eu.node.conference.meetings["meet-1"].room.relays.out["us-1"]
        assert len(relay.side.mids()) == 2
        await ada.c.send({"type": "leave"})              # Ada's tracks go away on us-1 too
        await eventually(lambda: not us.node.conference.meetings["meet-1"].room.sources, timeout=10,
                         what="the relayed tracks are gone from us-1")
        assert len([m for m in bob.c.seen if m["type"] == "track_unpublished"]) == 2
        assert (await bob.c.expect("participant_left", timeout=10))["participant_id"] == ada.id
        assert us.node.conference.meetings["meet-1"].room.relays.inbound == {}
    finally:
        for c in (ada, bob):
            if c is not None:
                await c.close()


async def test_an_edge_that_stops_tells_the_others_at_once(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob], ["Ada", "Bob"])
    await us.stop()                                       # SIGTERM-like: meetings end there with edge_stopped
    left = await ada.expect("participant_left", timeout=2)      # well before mesh.edge_timeout (3 s here)
    assert (left["participant_id"], left["reason"]) == (pid(bob), "edge_stopped")
    assert eu.node.mesh.meetings["meet-1"].edges == {}
