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
counting subscribers count them as any frames. :class:`Direct` sends the same clip without
aiortc's sending machinery, once the connection is up (``bench/machine.py``'s publishers).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import random
import struct
from pathlib import Path
from typing import Any

import msgspec
from aiortc.clock import current_ntp_time
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from bench.common import FPS, NoiseTrack, ToneTrack, pin_vp8_bitrate
from edge.sfu import aiortc_hooks as hooks

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

    def next(self, force_keyframe: bool = False) -> list[bytes]:
        """The clip's next picture as RTP payloads (the next keyframe picture when forced)."""
        n = len(self.clip.video)
        if force_keyframe:
            self.i = next(k for k in sorted(self.clip.keys) + [n] if k >= self.i % n) % n
            data = self.clip.keys[self.i]
        else:
            data = self.clip.video[self.i % n]
        self.i = (self.i + 1) % n
        payloads = Vp8Encoder._packetize(data, self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads

    def encode(self, frame: VideoFrame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        return self.next(force_keyframe), int(frame.pts * frame.time_base * 90000)

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


class Idle(MediaStreamTrack):
    """A track that never yields a frame: its sender's RTP loop waits for ever (see :class:`Direct`)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()


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


_RTP = struct.Struct("!BBHII")
_FORCE = "_RTCRtpSender__force_keyframe"


class _Stream:
    """One of the publisher's senders, written to directly."""

    def __init__(self, kind: str, sender: Any, path: hooks.SendPath, payload_type: int) -> None:
        self.kind, self.sender, self.path, self.pt = kind, sender, path, payload_type
        self.seq, self.ts0 = random.getrandbits(16), random.getrandbits(32)
        self.packets = self.octets = 0

    def send(self, payloads: list[bytes], ts: int) -> None:
        ts = (self.ts0 + ts) & 0xFFFFFFFF
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == last and self.kind == "video" else 0
            data = _RTP.pack(0x80, self.pt | marker, self.seq, ts, self.sender._ssrc) + payload
            self.path.sendto(self.path.protect(data), self.path.addr)
            self.seq = (self.seq + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(payload)
        hooks.report_sent(self.sender, current_ntp_time(), ts, self.packets, self.octets)


class Direct:
    """The clip sent straight from the publishing process once its peer connection is connected.

    aiortc's per-frame machinery (a track, an encoder call in a thread pool, a packet object and a
    coroutine step per packet) is most of what a replaying publisher costs, so the senders' tracks
    are :class:`Idle` (``publishing_pc(clip, direct=True)``) and one task writes the clip's
    packets: the RTP header, SRTP with the DTLS transport's session and ``sendto`` on the
    nominated pair (the edge's own send path, ``edge.sfu.aiortc_hooks.send_path``). aiortc keeps receiving and answering RTCP: a keyframe
    request (PLI/FIR) still sets the sender's flag, which makes the next picture a keyframe here
    as it would a live encoder's, and the sender reports say what was sent."""

    def __init__(self, clip: Clip, conn: Any) -> None:
        self.clip, self.conn = clip, conn
        self.task: asyncio.Future[None] | None = None

    async def start(self, timeout: float = 20.0) -> None:
        """Wait for the send paths, then send. The peer connection's tracks are :class:`Idle`, so
        aiortc's RTP loops never send anything under a numbering of their own."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        streams = []
        for t in self.conn.getTransceivers():
            while (path := hooks.send_path(t.sender.transport)) is None:
                if loop.time() > deadline:
                    raise RuntimeError("the publishing connection did not connect")
                await asyncio.sleep(0.05)
            if t.sender.__dict__["_RTCRtpSender__packet_count"]:
                raise RuntimeError("aiortc sent RTP before the clip took over")
            codec = t._codecs[0].mimeType.lower()
            if codec != {"audio": "audio/opus", "video": "video/vp8"}[t.kind]:
                raise RuntimeError(f"the clip is VP8 and Opus; {codec} was negotiated")
            streams.append(_Stream(t.kind, t.sender, path, t._codecs[0].payloadType))
        self.task = asyncio.ensure_future(self._run(streams))

    async def _run(self, streams: list[_Stream]) -> None:
        loop = asyncio.get_running_loop()
        pictures = ReplayVp8(self.clip)
        step = {"audio": AUDIO_PTIME, "video": 1 / FPS}
        due = dict.fromkeys(step, loop.time())
        frames = dict.fromkeys(step, 0)
        while True:
            kind = min(due, key=due.__getitem__)
            delay = due[kind] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            n = frames[kind]
            for stream in streams:
                if stream.kind != kind:
                    continue
                if stream.sender.transport.state != "connected":
                    return  # the connection is gone (the edge closed it, or consent expired)
                if kind == "video":
                    force = stream.sender.__dict__[_FORCE]
                    stream.sender.__dict__[_FORCE] = False
                    payloads, ts = pictures.next(force), n * 90000 // FPS
                else:
                    payloads = [self.clip.audio[n % len(self.clip.audio)]]
                    ts = n * int(AUDIO_PTIME * AUDIO_RATE)
                with contextlib.suppress(OSError):  # a full socket buffer drops it, as a network would
                    stream.send(payloads, ts)
            frames[kind] = n + 1
            due[kind] += step[kind]

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
