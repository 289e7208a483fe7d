"""A publisher that sends a pre-encoded clip instead of encoding live, so the load generators of
the benchmarks cost little CPU next to the edge they measure. Nothing here is part of the product.

The clip (:func:`make`) is :class:`bench.common.NoiseTrack` encoded once with aiortc's own VP8
encoder at the pinned :data:`bench.common.BITRATE` (5 s at 30 fps, a keyframe first), a keyframe of
every ``KEY_EVERY``-th picture besides, and 50 Opus frames of :class:`bench.common.ToneTrack`. A
publisher replays it (:func:`install`): aiortc's sender asks its encoder for each frame as usual,
and the encoder hands back the clip's next frame, packetized with aiortc's VP8 packetizer. A
keyframe request (PLI/FIR) makes the next frame a keyframe — the clip's next keyframe picture —
exactly when a live encoder would send one, so joins and keyframe requests behave as with a live
encoder. The pictures that follow a requested keyframe were encoded against another reference;
a decoder still decodes them (with small drift until the clip loops to its first keyframe), and
counting subscribers count them as any frames.
"""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path

import msgspec
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from bench.common import FPS, NoiseTrack, ToneTrack, pin_vp8_bitrate

SECONDS = 5
KEY_EVERY = 15  # a keyframe picture every half second of the clip
AUDIO_RATE = 48000


class Clip(msgspec.Struct):
    video: list[bytes]  # encoded VP8 frames, the first a keyframe
    keys: dict[int, bytes]  # picture index → the same picture encoded as a keyframe
    audio: list[bytes]  # Opus frames of 20 ms


def _frame_bytes(encoder: Vp8Encoder, picture: VideoFrame, index: int, keyframe: bool = False) -> bytes:
    picture.pts, picture.time_base = index * 3000, fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(picture, force_keyframe=keyframe)
    return b"".join(vp8_depayload(p) for p in payloads)


def make(path: Path) -> Clip:
    """Encode the clip into *path* (once: an existing file is read back)."""
    if path.exists():
        return msgspec.msgpack.decode(path.read_bytes(), type=Clip)
    pin_vp8_bitrate()
    from aiortc.codecs.opus import OpusEncoder

    noise, stream = NoiseTrack(), Vp8Encoder()
    pictures = [noise.image() for _ in range(SECONDS * FPS)]
    video = [_frame_bytes(stream, p, i) for i, p in enumerate(pictures)]
    keys = {i: _frame_bytes(Vp8Encoder(), pictures[i], i, keyframe=True) for i in range(0, len(pictures), KEY_EVERY)}
    opus, tone = OpusEncoder(), ToneTrack()
    audio: list[bytes] = []
    samples = int(AUDIO_PTIME * AUDIO_RATE)
    for n in range(50):
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(tone._pcm)
        frame.pts, frame.sample_rate, frame.time_base = n * samples, AUDIO_RATE, fractions.Fraction(1, AUDIO_RATE)
        audio.extend(opus.encode(frame)[0])
    clip = Clip(video=video, keys=keys, audio=audio)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.msgpack.encode(clip))
    tmp.replace(path)
    return clip


class ReplayVp8:
    """aiortc's encoder interface over the clip's VP8 frames."""

    def __init__(self, clip: Clip) -> None:
        self.clip, self.i = clip, 0
        self.picture_id = 0

    def encode(self, frame: VideoFrame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        n = len(self.clip.video)
        if force_keyframe:
            self.i = next(k for k in sorted(self.clip.keys) + [n] if k >= self.i % n) % n
            data = self.clip.keys[self.i]
        else:
            data = self.clip.video[self.i % n]
        self.i = (self.i + 1) % n
        payloads = Vp8Encoder._packetize(data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, int(frame.pts * frame.time_base * 90000)

    def pack(self, packet: object) -> tuple[list[bytes], int]:
        raise NotImplementedError


class ReplayOpus:
    """aiortc's encoder interface over the clip's Opus frames."""

    def __init__(self, clip: Clip) -> None:
        self.clip, self.i = clip, 0

    def encode(self, frame: AudioFrame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        data = self.clip.audio[self.i % len(self.clip.audio)]
        self.i += 1
        return [data], int(frame.pts)

    def pack(self, packet: object) -> tuple[list[bytes], int]:
        raise NotImplementedError


class TickTrack(VideoStreamTrack):
    """30 fps of one tiny picture: only the timestamps matter to the replaying encoder."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=2, height=2)
        frame.pts, frame.time_base = pts, time_base
        return frame


class SilentTick(AudioStreamTrack):
    """20 ms audio ticks carrying one sample each: the replaying encoder sends the clip's Opus."""

    async def recv(self) -> AudioFrame:
        if not hasattr(self, "_n"):
            self._n, self._start = 0, asyncio.get_running_loop().time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * AUDIO_PTIME - asyncio.get_running_loop().time()))
        frame = AudioFrame(format="s16", layout="mono", samples=1)
        frame.planes[0].update(b"\0\0")
        frame.pts = self._n * int(AUDIO_PTIME * AUDIO_RATE)
        frame.sample_rate, frame.time_base = AUDIO_RATE, fractions.Fraction(1, AUDIO_RATE)
        self._n += 1
        return frame


def install(path: Path) -> None:
    """Make every VP8 and Opus sender of this process replay the clip at *path*."""
    import aiortc.rtcrtpsender as sender

    clip = make(path)
    live = sender.get_encoder

    def get_encoder(codec):  # noqa: ANN001, ANN202
        kind = codec.mimeType.lower()
        if kind == "video/vp8":
            return ReplayVp8(clip)
        if kind == "audio/opus":
            return ReplayOpus(clip)
        return live(codec)

    sender.get_encoder = get_encoder
