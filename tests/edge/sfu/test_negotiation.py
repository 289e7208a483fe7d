"""Publish offers and subscriber answers: refusals change nothing; the subscribe PC is renegotiated
(one negotiation at a time) as tracks come and go."""

from __future__ import annotations

import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from edge.sfu.interfaces import GrantError, Grants, IceCandidate, SdpError, UnknownPeerError, UnknownTrackError
from tests.edge.sfu.client import Meeting, PatternTrack, ToneTrack
from tests.support.util import eventually

SOURCES = {"0": "microphone", "1": "camera"}


async def client_offer(data_channel: bool = False) -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    if data_channel:
        pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def assert_nothing_published(meeting: Meeting, participant_id: str) -> None:
    assert meeting.room.tracks() == []
    assert meeting.events.published == []
    assert meeting.room.peers[participant_id].publish_pc is None


BAD_OFFERS = [
    (lambda sdp: "", "the offer is empty"),
    (lambda sdp: "hello", "is not SDP"),
    (lambda sdp: "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "has no media sections"),
    (lambda sdp: re.sub(r"(VP8|H264)/90000", "VP9/90000", sdp), "no usable video codec in mid 1: offered VP9"),
    (lambda sdp: re.sub(r"a=ice-ufrag:.*\r\n", "", sdp), "has no ICE credentials"),
    (lambda sdp: re.sub(r"a=fingerprint:.*\r\n", "", sdp), "has no DTLS fingerprint"),
    (lambda sdp: sdp.replace("a=rtcp-mux\r\n", ""), "does not use RTCP multiplexing"),
    (lambda sdp: re.sub(r"a=group:BUNDLE.*\r\n", "", sdp), "must bundle all its m-sections"),
    (lambda sdp: sdp.replace("a=mid:1", "a=mid:0"), "the mid is used twice"),
]


@pytest.mark.parametrize("mutate,message", BAD_OFFERS, ids=[m for _, m in BAD_OFFERS])
async def test_a_bad_publish_offer_is_refused_and_changes_nothing(meeting: Meeting, mutate, message: str) -> None:
    client = await meeting.join("alice")
    with pytest.raises(SdpError, match=re.escape(message)):
        await meeting.room.publisher_offer("alice", mutate(await client_offer()), SOURCES)
    await assert_nothing_published(meeting, "alice")
    await client.publish()  # a good offer still works afterwards
    assert len(meeting.room.tracks()) == 2


@pytest.mark.parametrize("sources,message", [
    ({"0": "microphone"}, "mid 1 sends video but sources names no source for it"),
    ({"0": "microphone", "1": "webcam"}, "mid 1: unknown source 'webcam'"),
    ({"0": "camera", "1": "camera"}, "mid 0 sends audio but camera is video"),
    ({"0": "microphone", "1": "microphone"}, "mid 1 sends video but microphone is audio"),
])
async def test_sources_must_name_each_sending_mid(meeting: Meeting, sources: dict, message: str) -> None:
    await meeting.join("alice")
    with pytest.raises(SdpError, match=re.escape(message)):
        await meeting.room.publisher_offer("alice", await client_offer(), sources)
    await assert_nothing_published(meeting, "alice")


async def test_a_data_channel_is_refused(meeting: Meeting) -> None:
    await meeting.join("alice")
    with pytest.raises(SdpError, match="is 'application': the edge carries audio and video only"):
        await meeting.room.publisher_offer("alice", await client_offer(data_channel=True), SOURCES)
    await assert_nothing_published(meeting, "alice")


@pytest.mark.parametrize("allowed,message", [
    (frozenset(), "not allowed to publish the microphone (mid 0)"),
    (frozenset({"microphone"}), "not allowed to publish the camera (mid 1)"),
    (frozenset({"screen"}), "not allowed to publish the microphone (mid 0)"),
])
async def test_publishing_without_the_grant_is_refused(meeting: Meeting, allowed: frozenset, message: str) -> None:
    await meeting.join("alice", Grants(publish=allowed))
    with pytest.raises(GrantError, match=re.escape(message)):
        await meeting.room.publisher_offer("alice", await client_offer(), SOURCES)
    await assert_nothing_published(meeting, "alice")


async def test_a_refused_renegotiation_keeps_what_is_published(meeting: Meeting) -> None:
    alice = await meeting.join("alice", Grants(publish=frozenset({"microphone"})))
    bob = await meeting.join("bob")
    await alice.publish(video=False)
    await eventually(lambda: bob.decoded("audio") >= 10, what="alice's audio at bob")
    before = meeting.room.tracks()
    with pytest.raises(GrantError, match="not allowed to publish the camera"):
        await meeting.room.publisher_offer("alice", await client_offer(), SOURCES)
    assert meeting.room.tracks() == before
    heard = bob.decoded("audio")
    await eventually(lambda: bob.decoded("audio") >= heard + 10, what="audio still flowing")


async def test_subscriber_answers_are_checked(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    await meeting.join("bob")
    with pytest.raises(SdpError, match="no subscriber offer is outstanding for bob"):
        await meeting.room.subscriber_answer("bob", "v=0\r\n")
    meeting.events.auto_answer = False
    await alice.publish()
    await eventually(lambda: meeting.events.offers.get("bob"), what="an offer for bob")
    offer = meeting.events.offers["bob"][-1]

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    from aiortc import RTCSessionDescription
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = pc.localDescription.sdp
    for bad, message in [
        ("garbage", "is not SDP"),
        (answer.replace("a=mid:1", "a=mid:7").replace("BUNDLE 0 1", "BUNDLE 0 7"), "do not match the offer's"),
        (answer.replace("VP8/90000", "H264/90000"), "mid 1 carries VP8 but the answer accepts H264"),
        (answer.replace("a=setup:active", "a=setup:actpass"), "an answer must say a=setup:active"),
    ]:
        with pytest.raises(SdpError, match=re.escape(message)):
            await meeting.room.subscriber_answer("bob", bad)
    await meeting.room.subscriber_answer("bob", answer)  # the offer was still outstanding
    assert len(meeting.room.subscriptions("bob")) == 2
    await pc.close()


async def test_unknown_participants_tracks_and_bad_arguments(meeting: Meeting) -> None:
    room = meeting.room
    await meeting.join("alice")
    with pytest.raises(UnknownPeerError, match="no participant 'zoe' in room 'room-1'"):
        await room.publisher_offer("zoe", "v=0", {})
    with pytest.raises(UnknownPeerError, match="zoe"):
        await room.remove_peer("zoe")
    with pytest.raises(ValueError, match="'alice' is already in room"):
        await room.add_peer("alice", Grants())
    with pytest.raises(ValueError, match="non-empty string"):
        await room.add_peer("", Grants())
    with pytest.raises(UnknownTrackError, match="no track 'TR_nope'"):
        room.set_track_muted("TR_nope", True)
    with pytest.raises(ValueError, match="pc must be 'publish' or 'subscribe'"):
        await room.add_ice_candidate("alice", "both", IceCandidate("candidate:1 1 udp 1 1.2.3.4 5 typ host"))  # type: ignore[arg-type]
    with pytest.raises(SdpError, match="no publish connection for alice yet"):
        await room.add_ice_candidate("alice", "publish", IceCandidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0"))
    with pytest.raises(ValueError, match="must be positive"):
        room.set_subscriber_bitrate("alice", 0)


async def test_bad_ice_candidates_are_refused(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    await alice.publish()
    with pytest.raises(SdpError, match="unparsable ICE candidate 'candidate:nonsense'"):
        await meeting.room.add_ice_candidate("alice", "publish", IceCandidate("candidate:nonsense", "0"))
    with pytest.raises(SdpError, match="needs sdp_mid or sdp_mline_index"):
        await meeting.room.add_ice_candidate("alice", "publish", IceCandidate("candidate:1 1 udp 1 192.0.2.9 5 typ host"))
    for port in (70000, 0):   # aioice would take them and fail later, when it sends
        with pytest.raises(SdpError, match=f"has port {port} \\(1 to 65535\\)"):
            await meeting.room.add_ice_candidate("alice", "publish",
                                                 IceCandidate(f"candidate:1 1 udp 1 192.0.2.9 {port} typ host", "0"))
    await meeting.room.add_ice_candidate("alice", "publish", IceCandidate("candidate:1 1 udp 1 192.0.2.9 5 typ host", "0"))


async def test_renegotiation_when_a_second_publisher_arrives_and_when_one_leaves(meeting: Meeting) -> None:
    alice, bob, carol = [await meeting.join(n) for n in ("alice", "bob", "carol")]
    await alice.publish()
    await eventually(lambda: carol.decoded("video") >= 10, timeout=10, what="alice's video at carol")
    assert len(meeting.room.subscriptions("carol")) == 2

    await bob.publish()
    await eventually(lambda: len(meeting.room.subscriptions("carol")) == 4, timeout=10, what="carol gets bob's tracks")
    await eventually(lambda: sum(1 for r in carol.received.values() if r.kind == "video" and r.frames >= 10) == 2,
                     timeout=10, what="carol decodes both videos")
    assert len(meeting.events.offers["carol"]) == 2

    bob_tracks = {t.track_id for t in meeting.room.tracks() if t.participant_id == "bob"}
    await meeting.room.remove_peer("bob")
    assert {t.track_id for t in meeting.events.unpublished} == bob_tracks
    await eventually(lambda: len(meeting.events.offers["carol"]) == 3 and carol.answers == 3, what="carol renegotiated")
    offer = meeting.events.offers["carol"][-1]
    assert offer.count("m=") == 4 and offer.count("a=inactive") == 2  # bob's m-sections are inactive
    assert set(meeting.room.subscriptions("carol").values()) == {t.track_id for t in meeting.room.tracks()}
    seen = carol.decoded("video")
    await eventually(lambda: carol.decoded("video") >= seen + 10, what="alice's video still reaches carol")

    # a later publisher reuses the inactive m-sections instead of adding new ones
    dave = await meeting.join("dave")
    await dave.publish()
    await eventually(lambda: len(meeting.room.subscriptions("carol")) == 4, timeout=10, what="carol gets dave's tracks")
    offer = meeting.events.offers["carol"][-1]
    assert offer.count("m=") == 4 and "a=inactive" not in offer
    dave_video = next(t.track_id for t in meeting.room.tracks() if t.participant_id == "dave" and t.kind == "video")
    mid = next(m for m, t in meeting.room.subscriptions("carol").items() if t == dave_video)
    frames = carol.received[mid].frames
    await eventually(lambda: carol.received[mid].frames >= frames + 10, timeout=10, what="dave's video at carol")


async def test_negotiations_on_one_subscriber_are_serialized(meeting: Meeting) -> None:
    alice, bob, carol = [await meeting.join(n) for n in ("alice", "bob", "carol")]
    meeting.events.auto_answer = False
    await alice.publish()
    await eventually(lambda: len(meeting.events.offers.get("carol", [])) == 1, what="carol's first offer")
    await bob.publish()
    await meeting.room.remove_peer("alice")
    assert len(meeting.events.offers["carol"]) == 1  # changes wait for the outstanding answer

    await carol.on_offer(meeting.events.offers["carol"][0])
    await eventually(lambda: len(meeting.events.offers["carol"]) == 2, what="the folded offer")
    offer = meeting.events.offers["carol"][1]
    assert offer.count("a=inactive") == 2 and offer.count("a=sendonly") == 2  # alice gone, bob added
    await carol.on_offer(offer)
    bob_tracks = {t.track_id for t in meeting.room.tracks()}
    assert set(meeting.room.subscriptions("carol").values()) == bob_tracks
    await eventually(lambda: carol.decoded("video") >= 10, timeout=10, what="bob's video at carol")
