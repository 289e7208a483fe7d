"""The benchmark's own signaling: JSON lines over a Unix socket, and media helpers shared by its
processes. Nothing here is part of the product."""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import time
from typing import Any

import math
import struct

from aiortc.mediastreams import AUDIO_PTIME, VIDEO_CLOCK_RATE, VIDEO_PTIME, AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

BITRATE = 1_000_000  # what the VP8 encoders are pinned at (bits per second)
WIDTH, HEIGHT, FPS = 640, 480, 30


def pin_vp8_bitrate(bitrate: int = BITRATE) -> None:
    """Make every VP8 encoder in this process encode at *bitrate*, ignoring REMB feedback."""
    from aiortc.codecs import vpx

    vpx.DEFAULT_BITRATE = bitrate
    vpx.Vp8Encoder.target_bitrate = property(lambda self: bitrate, lambda self, value: None)  # type: ignore[assignment]


class NoiseTrack(VideoStreamTrack):
    """640×480 at 30 fps that a VP8 encoder cannot squeeze much: a scrolling random texture with a
    fresh random band in each frame, so the pinned bitrate is really used."""

    def __init__(self, band: int = 16, amplitude: int = 0x3F) -> None:
        super().__init__()
        self._texture = bytes(96 + (b & amplitude) for b in os.urandom(WIDTH * HEIGHT * 2))
        self._chroma = b"\x80" * (WIDTH * HEIGHT // 4)
        self._band, self._amplitude = band, amplitude
        self._i = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        offset = (self._i * 4 * WIDTH) % (WIDTH * HEIGHT)
        band = (self._i * 16) % (HEIGHT - self._band)
        y = bytearray(self._texture[offset:offset + WIDTH * HEIGHT])
        y[band * WIDTH:(band + self._band) * WIDTH] = bytes(96 + (b & self._amplitude)
                                                            for b in os.urandom(self._band * WIDTH))
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        frame.planes[0].update(bytes(y))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts, frame.time_base = pts, time_base
        self._i += 1
        return frame


assert VIDEO_PTIME == 1 / FPS and VIDEO_CLOCK_RATE == 90000  # what NoiseTrack assumes


class ToneTrack(AudioStreamTrack):
    """48 kHz mono, 20 ms frames of a 440 Hz tone (so Opus has something to encode)."""

    RATE = 48000

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_PTIME * self.RATE)
        self._pcm = struct.pack(f"<{samples}h", *(int(6000 * math.sin(2 * math.pi * 440 * i / self.RATE))
                                                  for i in range(samples)))
        self._n = 0
        self._start = 0.0

    async def recv(self) -> AudioFrame:
        samples = int(AUDIO_PTIME * self.RATE)
        if self._n == 0:
            self._start = time.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * AUDIO_PTIME - time.time()))
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(self._pcm)
        frame.pts, frame.sample_rate = self._n * samples, self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._n += 1
        return frame


class Line:
    """One JSON-lines connection: requests with ids, answers and pushed messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._next = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self.pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, path: str) -> Line:
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        return cls(reader, writer)

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")

    async def request(self, message: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self._next += 1
        future = self._waiting[self._next] = asyncio.get_running_loop().create_future()
        self.send({**message, "id": self._next})
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{message['op']}: {reply['error']}")
        return reply

    async def _read(self) -> None:
        while line := await self.reader.readline():
            message = json.loads(line)
            future = self._waiting.pop(message.get("re", -1), None)
            if future is not None:
                future.set_result(message)
            else:
                await self.pushed.put(message)
        await self.pushed.put({"op": "closed"})

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def now() -> float:
    return time.monotonic()
