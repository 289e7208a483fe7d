"""Media from a publisher reaches every subscriber, decoded by real aiortc clients, while the edge
itself never decodes or encodes anything."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest

from edge.sfu.interfaces import TrackInfo
from tests.edge.sfu.client import Meeting
from tests.support.util import eventually


class CodecSpy:
    """Wraps the get_encoder / get_decoder that aiortc's senders and receivers call, and records
    which sender (encoder) or which receiver's track queue (decoder) each codec was made for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.encoders: list[tuple[str, object]] = []
        self.decoders: list[tuple[str, object]] = []
        get_encoder, get_decoder = aiortc.rtcrtpsender.get_encoder, aiortc.rtcrtpreceiver.get_decoder

        def spy_encoder(codec):
            self.encoders.append((codec.name, sys._getframe(1).f_locals.get("self")))
            return get_encoder(codec)

        def spy_decoder(codec):
            # called in decoder_worker(loop, input_q, output_q, …): output_q is the track's queue
            self.decoders.append((codec.name, sys._getframe(1).f_locals.get("output_q")))
            return get_decoder(codec)

        monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", spy_encoder)
        monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", spy_decoder)


@pytest.fixture
def codec_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[CodecSpy]:
    yield CodecSpy(monkeypatch)


def edge_transceivers(meeting: Meeting) -> list:
    out = []
    for peer in meeting.room.peers.values():
        for pc in (peer.publish_pc, peer.subscriber.pc):
            if pc is not None:
                out += pc.getTransceivers()
    return out


async def test_audio_and_video_reach_every_subscriber(meeting: Meeting) -> None:
    publisher = await meeting.join("alice")
    subscribers = [await meeting.join(name) for name in ("bob", "carol", "dave")]
    await publisher.publish()

    await eventually(lambda: all(s.decoded("video") >= 30 and s.decoded("audio") >= 50 for s in subscribers),
                     timeout=15, what="30 video and 50 audio frames decoded by each subscriber")
    for s in subscribers:
        assert s.video_sizes() == {(640, 480)}
        assert sorted(r.kind for r in s.received.values()) == ["audio", "video"]
    stats = meeting.room.stats()
    assert (stats.peers, stats.tracks, stats.forwarded_streams) == (4, 2, 6)
    assert stats.packets_forwarded > 0 and stats.bytes_forwarded > 0
    assert stats.packets_dropped == 0
    assert publisher.decoded("video") == 0  # nobody else publishes: alice receives nothing
    assert {t.kind: t.codec for t in meeting.room.tracks()} == {"audio": "opus", "video": "VP8"}


async def test_the_edge_creates_no_decoder_and_no_encoder(meeting: Meeting, codec_spy: CodecSpy) -> None:
    publisher = await meeting.join("alice")
    subscribers = [await meeting.join("bob"), await meeting.join("carol")]
    await publisher.publish()
    await eventually(lambda: all(s.decoded("video") >= 20 and s.decoded("audio") >= 20 for s in subscribers),
                     timeout=15, what="media decoded by the subscribers")

    edge = edge_transceivers(meeting)
    edge_senders = {id(t.sender) for t in edge}
    edge_queues = {id(t.receiver.track._queue) for t in edge if t.receiver.track is not None}
    assert len(edge) == 6 and len(edge_queues) == 2  # alice's 2 receivers; 4 senders to bob and carol
    assert [name for name, sender in codec_spy.encoders if id(sender) in edge_senders] == []
    assert [name for name, queue in codec_spy.decoders if id(queue) in edge_queues] == []
    # the spy does see codecs: the clients' (alice encodes, bob and carol decode)
    assert sorted(name for name, _ in codec_spy.encoders) == ["VP8", "opus"]
    assert sorted(name for name, _ in codec_spy.decoders) == ["VP8", "VP8", "opus", "opus"]


async def test_h264_is_forwarded_when_the_publisher_negotiates_it(meeting: Meeting) -> None:
    publisher = await meeting.join("alice")
    subscriber = await meeting.join("bob")
    answer = await publisher.publish(audio=False, video_codec="H264")

    video = answer.split("m=video")[1]
    assert "H264/90000" in video and "VP8" not in video  # the edge answered with one codec
    await eventually(lambda: subscriber.decoded("video") >= 20, timeout=15, what="H264 frames decoded")
    assert subscriber.video_sizes() == {(640, 480)}
    offer = meeting.events.offers["bob"][-1].split("m=video")[1]
    assert "H264/90000" in offer and "VP8" not in offer  # the subscriber was offered only H264
    assert [t.codec for t in meeting.room.tracks()] == ["H264"]


async def test_subscribers_are_offered_only_the_publishers_codec(meeting: Meeting) -> None:
    publisher = await meeting.join("alice")
    subscriber = await meeting.join("bob")
    await publisher.publish()
    await eventually(lambda: subscriber.answers >= 1, what="bob answered")

    offer = meeting.events.offers["bob"][-1]
    audio, video = offer.split("m=audio")[1].split("m=video")
    assert "opus/48000" in audio and "PCMU" not in audio and "G722" not in audio
    assert "VP8/90000" in video and "H264" not in video and "rtx/90000" in video
    tracks = {t.kind: t for t in meeting.room.tracks()}
    for kind, section in (("audio", audio), ("video", video)):
        assert f"a=msid:alice {tracks[kind].track_id}" in section
    assert set(meeting.room.subscriptions("bob").values()) == {t.track_id for t in tracks.values()}


async def test_a_late_joiner_sees_video_within_a_second(meeting: Meeting) -> None:
    publisher = await meeting.join("alice")
    early = await meeting.join("bob")
    await publisher.publish()
    await eventually(lambda: early.decoded("video") >= 60, timeout=15, what="two seconds of video for bob")
    # aiortc's encoder makes a keyframe only every 3000 frames: the late joiner needs a requested one

    joined = time.monotonic()
    late = await meeting.join("carol")
    await eventually(lambda: late.decoded("video") >= 1, timeout=5, what="carol's first video frame")
    first = min(r.first for r in late.received.values() if r.kind == "video" and r.first)
    assert first - joined < 1.0, f"first frame {first - joined:.2f}s after joining"
    assert meeting.room.stats().keyframe_requests >= 1


async def test_tracks_are_announced_with_their_source_and_codec(meeting: Meeting) -> None:
    publisher = await meeting.join("alice")
    await publisher.publish()
    await asyncio.sleep(0)
    published = sorted(meeting.events.published, key=lambda t: t.kind)
    assert [(t.participant_id, t.kind, t.source, t.codec, t.muted) for t in published] == [
        ("alice", "audio", "microphone", "opus", False), ("alice", "video", "camera", "VP8", False)]
    assert all(isinstance(t, TrackInfo) and t.track_id for t in published)
    assert sorted(meeting.room.tracks(), key=lambda t: t.kind) == published
