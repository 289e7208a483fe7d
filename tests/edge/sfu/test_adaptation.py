"""Bandwidth adaptation with real aiortc peers over real UDP: a subscriber whose downlink is thin
is paused rather than fed a dropping queue, and resumed when it widens; the publisher is told
(REMB) no more than its best-served subscriber uses; garbage feedback never raises a layer; and
with adaptation off every subscriber gets the top layer, as before."""

from __future__ import annotations

import asyncio
import logging
import random
import struct

import pytest

from edge.sfu.adaptation import NO_CAP
from edge.sfu.interfaces import SfuConfig
from tests.edge.sfu.client import ALL, Client, Meeting
from tests.edge.sfu.simulcast_client import SimulcastPublisher
from tests.edge.sfu.twcc_support import psfb_remb, receiver_report, rtpfb, twcc_fci
from tests.support.util import eventually


def camera_downtrack(meeting: Meeting, subscriber: str):  # noqa: ANN201
    return next(dt for dt in meeting.room.peers[subscriber].egress.downtracks if dt.video)


async def flowing(meeting: Meeting) -> tuple[Client, Client]:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10, timeout=30, interval=0.1, what="bob sees alice")
    await eventually(lambda: meeting.room.peers["bob"].rate.downlink.last_feedback is not None,  # type: ignore[union-attr]
                     timeout=10, interval=0.1, what="bob's feedback reaches the estimator")
    return alice, bob


async def test_a_thin_downlink_pauses_video_keeps_audio_and_tells_the_publisher(meeting: Meeting) -> None:
    alice, bob = await flowing(meeting)
    dt = camera_downtrack(meeting, "bob")
    meeting.room.set_subscriber_bitrate("bob", 12_000)  # far under alice's camera: a thin link
    await eventually(lambda: dt.target is None, timeout=30, interval=0.1, what="bob's video paused")
    audio = bob.decoded("audio")
    await eventually(lambda: bob.decoded("audio") >= audio + 25, timeout=20, interval=0.1, what="audio goes on")
    # nobody can use alice's camera now: she is told to send little (REMB)
    await eventually(lambda: (meeting.room.peers["alice"].remb_cap or NO_CAP) < 300_000, timeout=10,
                     interval=0.1, what="a REMB cap for alice")
    meeting.room.set_subscriber_bitrate("bob", None)  # the link widens again
    video = bob.decoded("video")
    await eventually(lambda: dt.target == 0 and bob.decoded("video") >= video + 10, timeout=60, interval=0.2,
                     what="bob's video resumes")


@pytest.mark.long  # ./dev test-long: kept out of the suite's 15 minutes (it ran in every CI until 2026-12-07)
async def test_garbage_feedback_never_raises_a_layer_nor_ends_the_connection(
        meeting: Meeting, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiortc.rtcdtlstransport")
    alice, bob = await flowing(meeting)
    dt = camera_downtrack(meeting, "bob")
    rate = meeting.room.peers["bob"].rate
    assert rate is not None
    meeting.room.set_subscriber_bitrate("bob", 12_000)
    await eventually(lambda: dt.target is None, timeout=30, interval=0.1, what="bob's video paused")
    assert bob.subscribe_pc is not None
    transport = bob.subscribe_pc.getTransceivers()[0].receiver.transport
    rng = random.Random(7)
    ssrc = dt.ssrc
    unsent = (rate.subscriber.sequence.seq + 0x8000) & 0xFFFF  # transport-wide numbers never used
    junk = [
        psfb_remb(50_000_000, [ssrc ^ 1]),  # about a stream bob does not receive
        bytes.fromhex("8f ce 00 04") + struct.pack("!II", 1, 0) + b"REMB\x05\xff\xff\xff",  # SSRC count lies
        rtpfb(twcc_fci(unsent, [0, 250, 500, 750])),  # about packets never sent
        rtpfb(struct.pack("!H", unsent) + bytes(rng.randrange(256) for _ in range(22))),  # random bytes
        receiver_report(ssrc ^ 1, 0.0),  # a report about someone else
        bytes.fromhex("80 c9 00 07") + bytes(8),  # a report block cut short
        bytes([0x80, 0xCD]) + bytes(rng.randrange(256) for _ in range(30)),  # lengths that lie
    ]
    # none of it is feedback to the estimator: it neither counts nor moves the estimate
    rates = {d.ssrc: 1_000_000.0 for d in rate.egress.downtracks}
    estimate = rate.downlink.estimate
    for packet in junk:
        assert rate.downlink.on_rtcp(packet, rates, rate.subscriber.sequence) is False, packet.hex()
    assert rate.downlink.estimate == estimate
    # and over bob's real transport, while the edge keeps deciding: no layer, no broken transport
    sent = 0

    async def spray() -> None:
        nonlocal sent
        while True:
            for packet in junk:
                await transport._send_rtp(packet)
                sent += 1
            await asyncio.sleep(0.02)

    task = asyncio.ensure_future(spray())
    try:
        await eventually(lambda: sent >= 700, timeout=30, interval=0.1, what="garbage sent")
    finally:
        task.cancel()
    edge_transport = meeting.room.peers["bob"].subscriber.pc.getTransceivers()[0].sender.transport  # type: ignore[union-attr]
    assert edge_transport.state == "connected"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    meeting.room.set_subscriber_bitrate("bob", None)  # the link widens: video resumes on the same PC
    video = bob.decoded("video")
    await eventually(lambda: dt.target is not None and bob.decoded("video") >= video + 10, timeout=60,
                     interval=0.2, what="bob's video resumes after the garbage")


async def test_simulcast_layers_follow_the_tile_and_a_hidden_track_gets_nothing(meeting: Meeting) -> None:
    await meeting.room.add_peer("alice", ALL)
    alice = SimulcastPublisher(meeting.room, "alice")
    try:
        bob = await meeting.join("bob")
        await alice.publish()
        await eventually(lambda: any(dt.video for dt in meeting.room.peers["bob"].egress.downtracks), timeout=20,
                         what="bob subscribed")
        dt = camera_downtrack(meeting, "bob")
        await eventually(lambda: dt.layer == 2, timeout=40, interval=0.2, what="bob up to the top layer")
        track = dt.source.track_id
        meeting.room.set_view("bob", {track: (80, 60)}, frozenset())  # the smallest layer covers the tile
        assert dt.target == 0
        await eventually(lambda: dt.layer == 0, timeout=20, interval=0.1, what="bob switched down")
        frames = bob.decoded("video")
        await eventually(lambda: bob.decoded("video") >= frames + 10, timeout=20, what="bob keeps decoding")
        meeting.room.set_view("bob", {}, frozenset({track}))
        assert dt.target is None and dt.layer == -1
        meeting.room.set_view("bob", {}, frozenset())  # no size given: as good as the link allows
        await eventually(lambda: dt.layer == 2, timeout=40, interval=0.2, what="bob back up to the top")
    finally:
        await alice.close()


class TestOff:
    @pytest.fixture
    def sfu_config(self) -> SfuConfig:
        return SfuConfig(adaptation=False)

    async def test_without_adaptation_everyone_gets_the_top_layer_and_nothing_is_stamped(self, meeting: Meeting,
                                                                                       ) -> None:
        await without_adaptation(meeting)


async def without_adaptation(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10, timeout=30, interval=0.1, what="bob sees alice")
    peer = meeting.room.peers["bob"]
    assert meeting.room.adaptation is None and peer.rate is None
    assert all(dt.stamp is None and (not dt.video or dt.target == dt.source.layers - 1)
               for dt in peer.egress.downtracks)
    meeting.room.set_view("bob", {}, frozenset(t.track_id for t in meeting.room.tracks()))  # accepted, no effect
    assert camera_downtrack(meeting, "bob").target == 0


async def test_a_full_quality_subscriber_gets_the_top_layer_whatever_its_link(meeting: Meeting) -> None:
    """A recorder's grants say ``full_quality``: no estimate, no step-ups, the top layer at once."""
    import dataclasses

    await meeting.room.add_peer("alice", ALL)
    alice = SimulcastPublisher(meeting.room, "alice")
    try:
        recorder = await meeting.join("recorder", dataclasses.replace(ALL, full_quality=True))
        await alice.publish()
        await eventually(lambda: any(dt.video for dt in meeting.room.peers["recorder"].egress.downtracks),
                         timeout=20, what="the recorder subscribed")
        dt = camera_downtrack(meeting, "recorder")
        assert meeting.room.peers["recorder"].rate is None and dt.target == 2
        await eventually(lambda: dt.layer == 2 and recorder.decoded("video") >= 10, timeout=30, interval=0.1,
                         what="the top layer decoded")
        meeting.room.set_subscriber_bitrate("recorder", 12_000)   # nothing lowers it
        frames = recorder.decoded("video")
        await eventually(lambda: recorder.decoded("video") >= frames + 10, timeout=20, what="still decoding")
        assert dt.target == 2 and dt.layer == 2
    finally:
        await alice.close()
