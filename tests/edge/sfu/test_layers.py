"""The layer interface, packet by packet: a down track's target layer, pausing and resuming, and
switching between the layers of a simulcast source at a keyframe with continuous rewriting.
Packets go out through a real libsrtp session and UDP socket and are parsed as they arrive."""

from __future__ import annotations

import asyncio

import pytest

from edge.sfu.downtrack import DownTrack
from edge.sfu.forwarder import TrackSource
from edge.sfu.interfaces import TrackInfo
from edge.sfu.layers import LayerMeter, order_rids, vp8_size
from tests.edge.sfu.test_downtrack import DELTA, KEY, OPUS, VP8, Subscriber, downtrack, received, source, sub

__all__ = ["sub"]  # the fixture


def vp8_key(width: int, height: int) -> bytes:
    """The first bytes of a VP8 key frame's first packet: descriptor, frame tag, start code, size."""
    return KEY + b"\x00\x00\x9d\x01\x2a" + width.to_bytes(2, "little") + height.to_bytes(2, "little")


class LayeredOrigin:
    """A stand-in simulcast publisher that records which layers keyframes were asked for."""

    def __init__(self) -> None:
        self.requests: list[int | None] = []

    def request_keyframe(self, layer: int | None = None) -> None:
        self.requests.append(layer)


def layered(layers: int = 3) -> tuple[TrackSource, LayeredOrigin]:
    src = TrackSource(TrackInfo("TR_s", "alice", "video", "camera", "VP8"), VP8, keyframe_min_interval=0.0,
                      layers=layers)
    origin = LayeredOrigin()
    src.attach(origin)
    return src, origin


def frame(src: TrackSource, layer: int, seq: int, ts: int, key: bool = False) -> None:
    src.push_layer(layer, seq, ts, 1, (vp8_key(320 << layer, 180 << layer) if key else DELTA) + bytes([layer]))


def continuous(packets: list) -> bool:
    seqs = [p.sequence_number for p in packets]
    return all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])) and len({p.ssrc for p in packets}) == 1


async def test_a_single_layer_track_has_one_layer_and_targets_it_by_default(sub: Subscriber) -> None:
    src, _ = source()
    dt = await downtrack(src, sub)
    assert (src.layers, dt.target, dt.layer) == (1, 0, -1)
    src.push(seq=1, ts=3000, marker=1, payload=vp8_key(640, 360), level=-1)
    await received(sub, 1)
    assert dt.layer == 0 and src.layer_size(0) == (640, 360)
    with pytest.raises(ValueError, match="layers 0 to 0"):
        dt.set_target(1)
    with pytest.raises(ValueError):
        src.layer_bitrate(1)


async def test_pausing_forwards_nothing_and_resuming_starts_at_a_requested_keyframe(sub: Subscriber) -> None:
    src, origin = source()
    dt = await downtrack(src, sub)
    src.push(seq=1, ts=3000, marker=1, payload=KEY, level=-1)
    await received(sub, 1)
    dt.set_target(None)
    assert (dt.target, dt.layer) == (None, -1) and dt not in src.fanout
    for i in range(2, 5):
        src.push(seq=i, ts=3000 * i, marker=1, payload=KEY if i == 3 else DELTA, level=-1)
    await asyncio.sleep(0.05)
    assert len(sub.read()) == 1  # nothing while paused, not even a keyframe
    asked = origin.requests
    dt.set_target(0)
    assert origin.requests == asked + 1 and dt in src.fanout
    src.push(seq=5, ts=15000, marker=1, payload=DELTA, level=-1)  # held: resuming waits for a keyframe
    src.push(seq=6, ts=18000, marker=1, payload=KEY, level=-1)
    src.push(seq=7, ts=21000, marker=1, payload=DELTA, level=-1)
    packets = await received(sub, 3)
    assert [p.payload for p in packets] == [KEY, KEY, DELTA] and continuous(packets)
    assert dt.layer == 0


async def test_audio_ignores_targets(sub: Subscriber) -> None:
    src, _ = source(OPUS, "audio")
    dt = await downtrack(src, sub)
    dt.set_target(None)
    src.push(seq=1, ts=960, marker=0, payload=b"opus", level=-1)
    await received(sub, 1)
    assert dt.target == 0 and dt.layer == 0


async def test_a_simulcast_down_track_forwards_the_top_layer_by_default(sub: Subscriber) -> None:
    src, origin = layered()
    dt = await downtrack(src, sub)
    assert (dt.target, dt.layer) == (2, -1) and origin.requests == [2]
    for layer in range(3):
        frame(src, layer, 100 * layer, 1000 * layer, key=True)
        frame(src, layer, 100 * layer + 1, 1000 * layer + 3000)
    packets = await received(sub, 2)
    await asyncio.sleep(0.05)
    assert [p.payload[-1] for p in sub.read()] == [2, 2] and dt.layer == 2
    assert [src.layer_size(i) for i in range(3)] == [(320, 180), (640, 360), (1280, 720)]
    assert continuous(packets)


async def test_switching_waits_for_a_keyframe_of_the_target_and_stays_continuous(sub: Subscriber) -> None:
    src, origin = layered()
    dt = await downtrack(src, sub)
    frame(src, 2, 500, 90000, key=True)
    frame(src, 2, 501, 93000)
    await received(sub, 2)
    origin.requests.clear()
    dt.set_target(0)
    assert origin.requests == [0] and (dt.target, dt.layer) == (0, 2)
    frame(src, 0, 7000, 5000)          # layer 0, not a keyframe: no switch yet
    frame(src, 2, 502, 96000)          # so layer 2 keeps flowing
    await received(sub, 3)
    assert dt.layer == 2
    await asyncio.sleep(0.03)
    frame(src, 0, 7001, 8000, key=True)  # the switch
    frame(src, 2, 503, 99000)            # no longer forwarded
    frame(src, 0, 7002, 11000)
    packets = await received(sub, 5)
    await asyncio.sleep(0.05)
    assert [p.payload[-1] for p in sub.read()] == [2, 2, 2, 0, 0] and dt.layer == 0
    assert continuous(packets)
    assert (packets[4].timestamp - packets[3].timestamp) % 2**32 == 3000  # the new layer's own spacing
    step = (packets[3].timestamp - packets[2].timestamp) % 2**32
    assert 0.02 * 90000 <= step <= 1.0 * 90000  # across the switch: the time that passed


async def test_a_layered_target_can_pause_and_resume_on_another_layer(sub: Subscriber) -> None:
    src, origin = layered()
    dt = await downtrack(src, sub)
    frame(src, 2, 1, 0, key=True)
    await received(sub, 1)
    dt.set_target(None)
    frame(src, 2, 2, 3000, key=True)
    origin.requests.clear()
    dt.set_target(1)
    assert origin.requests == [1] and dt.layer == -1
    frame(src, 1, 50, 400)           # not a keyframe: nothing
    frame(src, 1, 51, 3400, key=True)
    packets = await received(sub, 2)
    await asyncio.sleep(0.05)
    assert [p.payload[-1] for p in sub.read()] == [2, 1] and continuous(packets) and dt.layer == 1
    with pytest.raises(ValueError, match="layers 0 to 2"):
        dt.set_target(3)
    with pytest.raises(ValueError):
        dt.set_target(True)  # type: ignore[arg-type]


async def test_each_subscriber_gets_its_own_layer(sub: Subscriber) -> None:
    other = Subscriber()
    try:
        src, _ = layered(2)
        low = await downtrack(src, sub)
        high: DownTrack = await downtrack(src, other, ssrc=999)
        low.set_target(0)
        assert (low.target, high.target) == (0, 1)
        for layer in (0, 1):
            frame(src, layer, 10, 0, key=True)
        assert [p.payload[-1] for p in await received(sub, 1)] == [0]
        assert [p.payload[-1] for p in await received(other, 1)] == [1]
    finally:
        other.close()


def test_layer_bitrate_is_measured_over_about_a_second() -> None:
    meter = LayerMeter(2)
    meter.sample(10.0, (0, 0))
    meter.sample(10.5, (50_000, 1_000))
    meter.sample(11.0, (125_000, 2_000))
    assert meter.bitrate(0, 125_000, now=11.0) == 1_000_000
    assert meter.bitrate(1, 2_000, now=11.0) == 16_000
    assert meter.bitrate(0, 125_000, now=30.0) == 0  # nothing arrived for a long time
    assert LayerMeter(1).bitrate(0, 5, now=1.0) == 0


def test_a_source_measures_its_layers() -> None:
    src, _ = layered(2)
    for i in range(40):
        frame(src, 1, i, 3000 * i, key=i == 0)
    assert src.layer_bitrate(0) == 0 and src.layer_bitrate(1) >= 0
    assert src.layer_size(1) == (640, 360) and src.layer_size(0) is None


def test_vp8_sizes_and_rid_order() -> None:
    assert vp8_size(vp8_key(1280, 720)) == (1280, 720)
    assert vp8_size(DELTA + bytes(10)) is None and vp8_size(b"\x10") is None
    assert order_rids(["f", "q", "h"]) == ["q", "h", "f"]
    assert order_rids(["lo", "hi"]) == ["lo", "hi"]


def test_layers_are_for_video_and_at_most_three() -> None:
    info = TrackInfo("TR_a", "alice", "audio", "microphone", "opus")
    with pytest.raises(ValueError):
        TrackSource(info, OPUS, 0.0, layers=2)
    with pytest.raises(ValueError):
        layered(4)
