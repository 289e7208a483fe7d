"""Simulcast publishing end to end with aiortc peers over real UDP: the edge answers a simulcast
offer itself, receives every layer, forwards one per subscriber and switches at keyframes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCPeerConnection

from edge.sfu.downtrack import DownTrack, ForwardedTrack
from edge.sfu.interfaces import SdpError, SfuConfig
from tests.edge.sfu.client import ALL, Meeting
from tests.edge.sfu.simulcast_client import LAYERS, SimulcastPublisher, simulcast_offer
from tests.support.util import eventually


@pytest.fixture
def sfu_config() -> SfuConfig:
    # the layers are chosen by these tests, not by bandwidth adaptation (test_adaptation.py)
    return SfuConfig(adaptation=False)


@pytest.fixture
async def alice(meeting: Meeting) -> AsyncIterator[SimulcastPublisher]:
    await meeting.room.add_peer("alice", ALL)
    publisher = SimulcastPublisher(meeting.room, "alice")
    try:
        yield publisher
    finally:
        await publisher.close()


def downtrack_of(meeting: Meeting, subscriber: str) -> DownTrack:
    (sub,) = meeting.room.peers[subscriber].subscriber.subs.values()
    return sub.downtrack


def size(client) -> tuple[int, int] | None:
    (received,) = [r for r in client.received.values() if r.kind == "video"]
    return received.size


async def test_the_answer_accepts_every_layer(meeting: Meeting, alice: SimulcastPublisher) -> None:
    answer = await alice.publish()
    assert "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n" in answer
    assert "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in answer
    assert "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id" in answer
    (source,) = meeting.room.sources.values()
    assert source.layers == 3
    await eventually(lambda: all(source.layer_bitrate(i) > 0 for i in range(3)), timeout=15,
                     what="every layer measured")
    await eventually(lambda: [source.layer_size(i) for i in range(3)] == [v[:2] for v in LAYERS.values()],
                     timeout=10, what="every layer's size from its keyframes")


async def test_each_subscriber_gets_its_layer_and_switches_at_a_keyframe(meeting: Meeting,
                                                                         alice: SimulcastPublisher) -> None:
    bob = await meeting.join("bob")
    carol = await meeting.join("carol")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10 and carol.decoded("video") >= 10, timeout=20,
                     what="video at bob and carol")
    assert size(bob) == size(carol) == LAYERS["f"][:2]  # the top layer by default
    low = downtrack_of(meeting, "carol")
    assert (low.layer, low.target) == (2, 2)

    plis = alice.layers["q"].plis
    low.set_target(0)
    await eventually(lambda: alice.layers["q"].plis > plis, timeout=5, what="a PLI for the lowest layer")
    await eventually(lambda: size(carol) == LAYERS["q"][:2], timeout=10, what="carol on the lowest layer")
    assert low.layer == 0 and size(bob) == LAYERS["f"][:2]
    frames = carol.decoded("video")
    await eventually(lambda: carol.decoded("video") >= frames + 10, timeout=10, what="carol keeps decoding")

    (log,) = [carol.rtp[mid] for mid, r in carol.received.items() if r.kind == "video"]
    seq = [(b[1] - a[1]) % 65536 for a, b in zip(log.packets, log.packets[1:])]
    assert seq == [1] * len(seq)  # one gap-free sequence across the switch
    assert len({p[0] for p in log.packets}) == 1
    ts = [(b[2] - a[2]) % 2**32 for a, b in zip(log.packets, log.packets[1:])]
    assert max(ts) < 90000  # no timestamp jump (each layer has its own random offset upstream)


async def test_layers_are_routed_and_repaired_per_stream_beside_a_second_video(meeting: Meeting) -> None:
    """Camera (simulcast, SSRCs announced nowhere) and screen share share a payload type, so only
    the mid header extension tells their packets apart; each layer has its own loss detection."""
    bob = await meeting.join("bob")
    await meeting.room.add_peer("alice", ALL)
    alice = SimulcastPublisher(meeting.room, "alice", screen=True)
    try:
        await alice.publish()
        await eventually(lambda: len([r for r in bob.received.values() if r.frames >= 20]) == 2, timeout=20,
                         what="camera and screen at bob")
        assert bob.video_sizes() == {LAYERS["f"][:2], (640, 480)}
        (camera,) = [s for s in meeting.room.sources.values() if s.info.source == "camera"]
        assert camera.layers == 3 and all(camera.layer_bitrate(i) > 0 for i in range(3))
        assert sum(layer.nacks for layer in alice.layers.values()) == 0  # no layer mistaken for another's loss
    finally:
        await alice.close()


async def test_a_paused_subscriber_resumes_at_a_keyframe(meeting: Meeting, alice: SimulcastPublisher) -> None:
    bob = await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 5, timeout=20, what="video at bob")
    dt = downtrack_of(meeting, "bob")
    dt.set_target(None)
    sent = dt.packets
    frames = bob.decoded("video")
    dt.set_target(1)
    assert dt.layer == -1
    await eventually(lambda: size(bob) == LAYERS["h"][:2] and bob.decoded("video") >= frames + 5, timeout=10,
                     what="bob on the middle layer")
    assert dt.layer == 1 and dt.packets > sent


async def test_a_renegotiation_keeps_the_layers(meeting: Meeting, alice: SimulcastPublisher) -> None:
    await alice.publish()
    again = await meeting.room.publisher_offer("alice", simulcast_offer(
        alice.pc.localDescription.sdp, ["q", "h", "f"]), {"0": "camera"})
    assert "a=simulcast:recv q;h;f" in again
    with pytest.raises(SdpError, match="cannot change"):
        await meeting.room.publisher_offer("alice", simulcast_offer(alice.pc.localDescription.sdp, ["q", "f"]),
                                           {"0": "camera"})
    assert [s.layers for s in meeting.room.sources.values()] == [3]


@pytest.mark.parametrize(("change", "message"), [
    ({"rids": ["a", "b", "c", "d"]}, "lists 4 rids; the edge takes at most 3"),
    ({"simulcast_line": "a=simulcast:send q;x"}, "rid 'x', which no a=rid line declares"),
    ({"rid_ext": False}, "needs the RTP stream id header extension"),
    ({"kind": "audio"}, "a=simulcast on audio"),
    ({"simulcast_line": "a=simulcast:recv q;h"}, "must be 'send"),
    ({"simulcast_line": "a=simulcast:send q,h;f"}, "alternatives"),
])
async def test_bad_simulcast_offers_are_refused_and_change_nothing(meeting: Meeting, change: dict,
                                                                   message: str) -> None:
    await meeting.room.add_peer("alice", ALL)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver(ForwardedTrack("video"), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        rids = change.pop("rids", ["q", "h", "f"])
        offer = simulcast_offer(pc.localDescription.sdp, rids, **change)
        with pytest.raises(SdpError, match=message):
            await meeting.room.publisher_offer("alice", offer, {"0": "microphone", "1": "camera"})
        assert meeting.room.tracks() == [] and meeting.room.peers["alice"].publish_pc is None
    finally:
        await pc.close()
