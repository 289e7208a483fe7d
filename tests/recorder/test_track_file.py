"""Real media through the recorder: encoded by PyAV here, packetized as a sender would, then
depacketized (recorder.depacketize), timed (recorder.clock) and muxed (recorder.track_file) without
any codec; the files are checked with Debian's ffprobe and ffmpeg."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import av
import pytest

from recorder.clock import StreamClock
from recorder.depacketize import Depacketizer, depacketizer_for
from recorder.track_file import TrackFile, file_extension, h264_frame_size, vp8_frame_size
from tests.recorder.test_depacketize import Rtp, h264_payloads, rtp_stream, vp8_payloads
from tests.support.util import require

ROOT = Path(__file__).resolve().parents[2]
W, H, FPS, SECONDS = 320, 240, 15, 2
ARRIVAL = 1_700_000_000.0
Encoded = list[tuple[bytes, bool]]


@pytest.fixture(autouse=True)
def ffmpeg_tools() -> None:
    require(shutil.which("ffprobe") is not None and shutil.which("ffmpeg") is not None,
            "ffmpeg (apt-get install ffmpeg)")


# -- the sender: real encoders, used by the test only -------------------------------------------
PATTERN = bytes((x * 3 + y * 5 + (x * y >> 6)) & 0xFF for y in range(H) for x in range(W))


def _picture(i: int) -> av.VideoFrame:
    frame = av.VideoFrame(W, H, "yuv420p")
    shift = i * 8                                  # the pattern moves 8 px a frame
    frame.planes[0].update(PATTERN[shift:] + PATTERN[:shift])
    frame.planes[1].update(bytes([(i * 9) & 0xFF]) * (W * H // 4))
    frame.planes[2].update(bytes([128]) * (W * H // 4))
    frame.pts = i
    return frame


def encode_video(codec: str) -> Encoded:
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
    ctx.time_base, ctx.framerate, ctx.gop_size = Fraction(1, FPS), Fraction(FPS), 10
    ctx.options = ({"deadline": "realtime", "lag-in-frames": "0", "auto-alt-ref": "0"} if codec == "libvpx"
                   else {"preset": "ultrafast", "tune": "zerolatency", "slices": "2"})
    packets = [p for i in range(FPS * SECONDS) for p in ctx.encode(_picture(i))] + ctx.encode(None)
    return [(bytes(p), p.is_keyframe) for p in packets]


def encode_tone() -> Encoded:
    ctx = av.CodecContext.create("libopus", "w")
    assert isinstance(ctx, av.AudioCodecContext)
    ctx.sample_rate, ctx.layout, ctx.format = 48000, "mono", "s16"
    tone = b"".join(int(9000 * math.sin(2 * math.pi * 440 * n / 48000)).to_bytes(2, "little", signed=True)
                    for n in range(48000 * SECONDS))
    packets = []
    for i in range(SECONDS * 50):
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(tone[i * 1920:(i + 1) * 1920])
        frame.sample_rate, frame.pts = 48000, i * 960
        packets += ctx.encode(frame)
    return [(bytes(p), True) for p in packets + ctx.encode(None)][:SECONDS * 50]


@pytest.fixture(scope="module")
def media() -> dict[str, Encoded]:
    return {"vp8": encode_video("libvpx"), "h264": encode_video("libx264"), "opus": encode_tone()}


def packetize(codec: str, frames: Encoded) -> list[Rtp]:
    """Timestamps and sequence numbers start near their wrap, as a sender's random ones may."""
    if codec == "opus":
        return rtp_stream([(2**32 - 4800 + i * 960, [data]) for i, (data, _) in enumerate(frames)], first_seq=65500)
    return rtp_stream([(2**32 - 18000 + i * 6000, vp8_payloads(data, picture_id=i & 0x7FFF) if codec == "vp8"
                        else h264_payloads(data)) for i, (data, _) in enumerate(frames)], first_seq=65500)


def record(path: Path, codec: str, packets: list[Rtp], skip: int | None = None) -> tuple[TrackFile, Depacketizer]:
    kind: Literal["audio", "video"] = "audio" if codec == "opus" else "video"
    rate = 48000 if codec == "opus" else 90000
    depacketizer, clock, track = depacketizer_for(codec), StreamClock(rate), TrackFile(path, kind, codec, rate)
    for i, packet in enumerate(packets):
        if i != skip:
            for frame in depacketizer.push(*packet):
                track.write(clock.seconds(frame.rtp_timestamp, ARRIVAL + i * 0.001), frame.data, frame.keyframe)
    assert track._stream is not None and (track._stream.codec_context is None or not track._stream.codec_context.is_open)
    track.close()
    return track, depacketizer


# -- Debian's tools ------------------------------------------------------------------------------
def probe(path: Path) -> dict[str, Any]:
    run = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and not run.stderr, run.stderr
    info: dict[str, Any] = json.loads(run.stdout)
    assert len(info["streams"]) == 1
    return info


def decode_errors(path: Path) -> str:
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, timeout=30)
    return run.stderr + ("" if run.returncode == 0 else f"exit status {run.returncode}")


# -- the codec spy -------------------------------------------------------------------------------
class CodecSpy:
    """Every call made from Python into PyAV's codecs while active: making a codec context
    (``CodecContext.create``) and opening, encoding or decoding through a codec context, a stream or
    a packet. A stream's codec context opened by the muxer itself is checked by ``record``."""

    NAMES = {"create", "open", "encode", "encode_lazy", "decode", "parse"}

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") in self.NAMES:
            owner = getattr(arg, "__self__", None)
            if getattr(arg, "__module__", "") == "av.codec.context" or isinstance(owner, (av.CodecContext, av.stream.Stream, av.Packet)):
                self.calls.append(getattr(arg, "__qualname__", arg.__name__))

    def __enter__(self) -> CodecSpy:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)


def test_the_codec_spy_sees_a_decoder_and_an_encoder() -> None:
    with CodecSpy() as spy:
        decoder = av.CodecContext.create("vp8", "r")
        with pytest.raises(av.error.FFmpegError):
            decoder.decode(av.Packet(b"\x00" * 20))
        with av.open(io.BytesIO(), "w", format="webm") as container:
            container.add_stream("libvpx", rate=FPS).encode(None)
    assert "create" in spy.calls and any(c.endswith(".decode") for c in spy.calls)
    assert any(c.endswith(".encode") for c in spy.calls)


# -- the files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["vp8", "h264", "opus"])
def test_a_track_is_muxed_without_any_codec_and_plays(codec: str, media: dict[str, Encoded], tmp_path: Path) -> None:
    packets = packetize(codec, media[codec])
    path = tmp_path / f"track{file_extension(codec)}"
    with CodecSpy() as spy:
        track, depacketizer = record(path, codec, packets)
    assert spy.calls == []
    assert track.frames == depacketizer.frames == len(media[codec]) and track.skipped == 0
    assert track.first_ts is not None and track.last_ts is not None and abs(track.first_ts - ARRIVAL) < 0.1
    assert abs(track.duration - SECONDS) < 0.2
    info = probe(path)
    stream = info["streams"][0]
    assert stream["codec_name"] == codec and int(stream["nb_read_frames"]) == track.frames
    if codec == "opus":
        assert (stream["sample_rate"], stream["channels"], stream["extradata_size"]) == ("48000", 2, 19)
    else:
        assert (stream["width"], stream["height"]) == (W, H)
    assert abs(float(info["format"]["duration"]) - SECONDS) < 0.2
    assert decode_errors(path) == ""


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_a_lost_packet_drops_frames_until_the_next_keyframe(codec: str, media: dict[str, Encoded], tmp_path: Path) -> None:
    frames = media[codec]
    packets = packetize(codec, frames)
    stamps = [p[1] for p in packets]
    frame_of = {ts: i for i, ts in enumerate(dict.fromkeys(stamps))}
    broken = next(frame_of[ts] for ts in stamps if frame_of[ts] > 0 and stamps.count(ts) > 1)   # one of several packets
    path = tmp_path / f"gap{file_extension(codec)}"
    track, depacketizer = record(path, codec, packets, skip=[frame_of[ts] for ts in stamps].index(broken) + 1)
    resume = next(i for i in range(broken + 1, len(frames)) if frames[i][1])
    assert depacketizer.gaps == 1 and depacketizer.dropped_frames == resume - broken
    assert track.frames == len(frames) - (resume - broken)
    assert int(probe(path)["streams"][0]["nb_read_frames"]) == track.frames
    assert decode_errors(path) == ""


def test_video_starts_at_its_first_keyframe_and_reads_its_size(media: dict[str, Encoded], tmp_path: Path) -> None:
    vp8, h264 = media["vp8"], media["h264"]
    assert vp8_frame_size(vp8[0][0]) == (W, H) and vp8_frame_size(vp8[1][0]) is None
    assert h264_frame_size(h264[0][0]) == (W, H) and h264_frame_size(h264[1][0]) is None
    track = TrackFile(tmp_path / "late.webm", "video", "vp8", 90000)
    assert not track.write(10.0, vp8[1][0], False) and not os.path.exists(tmp_path / "late.webm")
    assert track.write(10.1, vp8[10][0], True) and track.write(10.2, vp8[11][0], False)
    track.close()
    track.close()
    assert (track.skipped, track.frames, track.first_ts, track.width, track.height) == (1, 2, 10.1, W, H)
    assert decode_errors(tmp_path / "late.webm") == ""
    empty = TrackFile(tmp_path / "never.mkv", "video", "h264", 90000)
    empty.close()
    assert empty.frames == 0 and not os.path.exists(tmp_path / "never.mkv")
    with pytest.raises(ValueError):
        TrackFile(tmp_path / "x.webm", "video", "opus", 48000)


ABRUPT = """
import os, pickle, sys
from recorder.track_file import TrackFile
frames = pickle.load(open(sys.argv[1], "rb"))
track = TrackFile(sys.argv[2], "video", "vp8", 90000)
for i, (data, key) in enumerate(frames):
    track.write(100 + i / 15, data, key)
os._exit(0)   # no close(): the process dies
"""


def test_a_file_whose_writer_died_still_plays(media: dict[str, Encoded], tmp_path: Path) -> None:
    frames = media["vp8"] * 2                      # 4 s, the second half from a key frame again
    (tmp_path / "frames.pickle").write_bytes(pickle.dumps(frames))
    path = tmp_path / "died.webm"
    subprocess.run([sys.executable, "-c", ABRUPT, str(tmp_path / "frames.pickle"), str(path)], cwd=ROOT, check=True,
                   timeout=60)
    stream = probe(path)["streams"][0]
    assert stream["codec_name"] == "vp8" and (stream["width"], stream["height"]) == (W, H)
    assert len(frames) - FPS <= int(stream["nb_read_frames"]) < len(frames)   # all but the last second
    assert decode_errors(path) == ""
