"""Keyframe starts recognised in real encoder output; keyframe requests coalesced per track."""

from __future__ import annotations

import asyncio
import fractions
import time

import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av import VideoFrame

from edge.sfu.keyframes import KeyframeRequester, h264_keyframe_start, keyframe_detector, vp8_keyframe_start


def frame(i: int) -> VideoFrame:
    f = VideoFrame(width=320, height=240)
    for n, plane in enumerate(f.planes):
        plane.update(bytes([(i * 7 + n * 50) % 256]) * plane.buffer_size)
    f.pts, f.time_base = i * 3000, fractions.Fraction(1, 90000)
    return f


@pytest.mark.parametrize("name,detect", [("VP8", vp8_keyframe_start), ("H264", h264_keyframe_start)])
def test_keyframe_starts_in_real_encoder_output(name: str, detect) -> None:
    encoder = get_encoder(RTCRtpCodecParameters(mimeType=f"video/{name}", clockRate=90000,
                                                parameters={"packetization-mode": "1"} if name == "H264" else {}))
    packets = [encoder.encode(frame(i), force_keyframe=i in (0, 5))[0] for i in range(8)]
    starts = [i for i, payloads in enumerate(packets) if payloads and detect(payloads[0])]
    assert starts == [0, 5]
    # only the first packet of a keyframe counts as its start
    assert not any(detect(p) for payloads in packets for p in payloads[1:] if name == "VP8")
    assert keyframe_detector(name) is detect


def test_malformed_payloads_are_not_keyframes() -> None:
    for payload in (b"", b"\x10", b"\x90", b"\x90\x80", b"\x90\x80\x80"):
        assert not vp8_keyframe_start(payload)
    for payload in (b"", b"\x18", b"\x18\x00\x05", b"\x1c", b"\x1c\x05"):  # STAP-A/FU-A cut short
        assert not h264_keyframe_start(payload)
    assert keyframe_detector("opus")(b"") is True


async def test_requests_are_coalesced_per_interval() -> None:
    sent: list[float] = []
    requester = KeyframeRequester(lambda: sent.append(time.monotonic()), min_interval=0.2)
    start = time.monotonic()
    for _ in range(5):
        requester.request()  # one goes out at once, the rest wait for the interval
    assert len(sent) == 1
    await asyncio.sleep(0.1)
    requester.request()
    await asyncio.sleep(0.2)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.2  # folded into one, sent when allowed
    assert (requester.requested, requester.sent) == (6, 2)
    await asyncio.sleep(0.25)
    requester.request()  # after a quiet interval: at once
    assert len(sent) == 3 and sent[2] - start >= 0.45
    requester.close()


async def test_an_awaitable_request_runs_and_close_cancels_what_is_pending() -> None:
    done: list[str] = []

    async def send() -> None:
        await asyncio.sleep(0)
        done.append("pli")

    requester = KeyframeRequester(send, min_interval=10)
    requester.request()
    requester.request()  # waits 10 s
    await asyncio.sleep(0.01)
    assert done == ["pli"]
    requester.close()
    assert requester._timer is None
