"""Transcoding bridges (edge/sfu/bridge.py), with real aiortc clients: a subscriber that can only
decode another codec than the publisher's gets the track through a bridge that decodes it once
and encodes it once, shared by every subscriber needing that codec; nobody else's media is
touched, no bridge exists while everyone shares the publisher's codec, and a bridge stops when
its last subscriber goes."""

from __future__ import annotations

import dataclasses

import pytest

import edge.sfu.bridge
from edge.sfu.interfaces import Grants
from tests.edge.sfu.client import ALL, Client, Meeting
from tests.support.util import eventually

H264_ONLY = dataclasses.replace(ALL, video_codecs=frozenset({"h264"}))
VP8_ONLY = dataclasses.replace(ALL, video_codecs=frozenset({"vp8"}))


def video_codec(client: Client) -> set[str]:
    """The video codec(s) negotiated on the client's subscribe PC."""
    assert client.subscribe_pc is not None
    return {t._codecs[0].name for t in client.subscribe_pc.getTransceivers()   # noqa: SLF001
            if t.kind == "video" and t._codecs}   # noqa: SLF001


async def test_h264_only_subscribers_of_a_vp8_publisher_share_one_bridge(meeting: Meeting) -> None:
    publisher = await meeting.join("pub")
    plain = await meeting.join("plain")
    h264 = [await meeting.join(f"h264-{i}", H264_ONLY) for i in range(2)]
    await publisher.publish(video_codec="VP8")
    await eventually(lambda: plain.decoded("video") >= 20 and all(c.decoded("video") >= 20 for c in h264),
                     timeout=30, what="video decoded by every subscriber")
    assert video_codec(plain) == {"VP8"} and all(video_codec(c) == {"H264"} for c in h264)
    assert all(c.decoded("audio") > 0 for c in h264)            # audio is forwarded as it is
    assert all(c.video_sizes() == {(640, 480)} for c in [plain, *h264])
    (key, bridge), = meeting.room.bridges.items()
    assert key[1] == "h264" and len(bridge.output.downtracks) == 2 and bridge.frames_in > 0
    assert bridge.frames_out >= bridge.frames_in - 5             # one encode per decoded frame, not per subscriber
    stats = meeting.room.stats()
    assert stats.extra["bridges"] == 1 and stats.extra["bridge_frames_out"] > 0
    assert stats.forwarded_streams == 2 * 3                      # audio + video to each of the three subscribers

    # A newcomer's first keyframe comes from the encoder, at once: it does not wait for the publisher.
    requested = bridge.output.keyframes_sent()
    late = await meeting.join("h264-late", H264_ONLY)
    await eventually(lambda: late.decoded("video") >= 10, timeout=20, what="the late subscriber decoding")
    assert bridge.output.keyframes_sent() > requested and meeting.room.bridges == {key: bridge}

    for c in [*h264, late]:
        await meeting.room.remove_peer(c.id)
    assert meeting.room.bridges == {} and bridge.closed           # the last subscriber gone: the bridge stops
    bridge._thread.join(timeout=10)                               # noqa: SLF001
    assert not bridge._thread.is_alive()                          # noqa: SLF001


async def test_a_vp8_only_subscriber_of_an_h264_publisher(meeting: Meeting) -> None:
    publisher = await meeting.join("pub")
    vp8 = await meeting.join("vp8", VP8_ONLY)
    await publisher.publish(video_codec="H264")
    await eventually(lambda: vp8.decoded("video") >= 20, timeout=30, what="VP8 decoded")
    assert video_codec(vp8) == {"VP8"} and [k[1] for k in meeting.room.bridges] == ["vp8"]


async def test_no_bridge_while_every_subscriber_shares_the_publisher_s_codec(
        meeting: Meeting, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = edge.sfu.bridge.get_decoder
    monkeypatch.setattr(edge.sfu.bridge, "get_decoder", lambda codec: made.append(codec.name) or real(codec))
    publisher = await meeting.join("pub")
    subscribers = [await meeting.join("a"), await meeting.join("b", VP8_ONLY),
                   await meeting.join("c", Grants(publish=frozenset(), video_codecs=frozenset({"vp8", "h264"})))]
    await publisher.publish(video_codec="VP8")
    await eventually(lambda: all(s.decoded("video") >= 20 for s in subscribers), timeout=30, what="video decoded")
    assert meeting.room.bridges == {} and made == []
