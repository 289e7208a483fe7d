"""What the benchmarks (``bench/sfu.py``, ``bench/cascade.py``) share. Nothing here is part of the
product.

The controller's side: child processes spoken to in JSON lines (:class:`Proc`), CPU readings from
/proc, a description of the machine, the ``--quick``/``--out`` arguments and the JSON output.
The clients' side: the test tracks and VP8 pinned at :data:`BITRATE` (:func:`publishing_pc`), and
the subscriber whose frames are counted (:class:`Subscriber`), hosted in worker processes that
take their commands on stdin (:func:`serve_commands`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import platform
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pylibsrtp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import (
    AUDIO_PTIME,
    VIDEO_CLOCK_RATE,
    VIDEO_PTIME,
    AudioStreamTrack,
    MediaStreamError,
    VideoStreamTrack,
)
from aiortc.rtp import RtpPacket
from av import AudioFrame, VideoFrame

from edge.sfu.keyframes import vp8_keyframe_start

ROOT = Path(__file__).resolve().parents[1]
BITRATE = 1_000_000  # what the VP8 encoders are pinned at (bits per second)
WIDTH, HEIGHT, FPS = 640, 480, 30


# --- the controller's side ---------------------------------------------------------------------

def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


class Proc:
    """A child process (a Python script under the repository) spoken to in JSON lines on
    stdin/stdout."""

    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.p.pid

    def send(self, message: dict[str, Any]) -> None:
        self.p.stdin.write(json.dumps(message) + "\n")
        self.p.stdin.flush()

    def read(self) -> dict[str, Any]:
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.p.args[1:3]} exited with {self.p.wait(10)}")
        return json.loads(line)

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return self.read()

    def stop(self, quit: dict[str, Any] | None = None, grace: float = 10) -> None:
        """Send *quit* (when given) and close stdin; kill the process if it has not exited
        *grace* seconds later."""
        if quit is not None:
            with contextlib.suppress(OSError):
                self.send(quit)
        with contextlib.suppress(OSError):
            self.p.stdin.close()
        try:
            self.p.wait(grace)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


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


def machine() -> dict[str, Any]:
    """The CPU, the versions that matter and the load average when the run starts."""
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    import aiortc
    import av

    return {"cpu_model": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "aiortc": aiortc.__version__, "av": av.__version__, "load_average_start": list(os.getloadavg())}


def arguments(doc: str, quick: str) -> argparse.ArgumentParser:
    """A parser described by the benchmark's docstring *doc*, with ``--quick`` (a smoke run, as
    *quick* says) and ``--out``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--out", help="also write the JSON here")
    return parser


def emit(result: dict[str, Any], out: str | None) -> None:
    """Print *result* as JSON, and write it to *out* too when given."""
    text = json.dumps(result, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    print(text)


# --- the clients' side -------------------------------------------------------------------------

def now() -> float:
    return time.monotonic()


def pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


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
        frame = self.image()
        frame.pts, frame.time_base = pts, time_base
        return frame

    def image(self) -> VideoFrame:
        """The next picture of the sequence, without a timestamp."""
        offset = (self._i * 4 * WIDTH) % (WIDTH * HEIGHT)
        band = (self._i * 16) % (HEIGHT - self._band)
        y = bytearray(self._texture[offset:offset + WIDTH * HEIGHT])
        y[band * WIDTH:(band + self._band) * WIDTH] = bytes(96 + (b & self._amplitude)
                                                            for b in os.urandom(self._band * WIDTH))
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        frame.planes[0].update(bytes(y))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
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


async def publishing_pc(clip: str | None = None, direct: bool = False) -> tuple[RTCPeerConnection, dict[str, str]]:
    """A publisher's peer connection, VP8 pinned at :data:`BITRATE`, sending the tone and the noise
    video, with its offer as local description; and its mids → sources (microphone, camera). With
    *clip* (a file path), the two are the pre-encoded clip replayed (``bench/clip.py``), not encoded
    live; with *direct* too, the tracks are idle and ``bench.clip.Direct`` sends the clip."""
    pin_vp8_bitrate()
    conn = pc()
    if clip and direct:
        from bench import clip as replay

        conn.addTransceiver(replay.Idle("audio"), direction="sendonly")
        conn.addTransceiver(replay.Idle("video"), direction="sendonly")
    elif clip:
        from bench import clip as replay

        replay.install(Path(clip))
        conn.addTransceiver(replay.SilentTick(), direction="sendonly")
        conn.addTransceiver(replay.TickTrack(), direction="sendonly")
    else:
        conn.addTransceiver(ToneTrack(), direction="sendonly")
        conn.addTransceiver(NoiseTrack(), direction="sendonly")
    await conn.setLocalDescription(await conn.createOffer())
    return conn, {t.mid: source for t, source in zip(conn.getTransceivers(), ("microphone", "camera"))}


async def until_stdin_closes() -> None:
    """Wait for the controller to close this process's stdin (it stops a child that way)."""
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


class Subscriber:
    """A subscriber's receiving peer connection and its counters. A decoding subscriber decodes
    each track with aiortc and counts frames; a counting one takes each RTP packet off its ICE
    connection and counts packets and complete video frames (marker bits, from the first keyframe),
    without decoding (:meth:`_take_packets`). The signaling around it is each benchmark's own."""

    def __init__(self, decode: bool, keyframe: Callable[[bytes], bool] = vp8_keyframe_start,
                 batch: bool = False) -> None:
        self.decode = decode
        #: Counting only: once video flows, read the socket in batches (``bench/drain.py``).
        self.batch = batch and not decode
        self.batched = False
        #: Whether a video payload starts a keyframe (counting starts at the first one).
        self.keyframe = keyframe
        self.pc = pc()
        self.joined = now()
        self.first: float | None = None
        self.video_frames = self.audio_frames = self.packets = 0
        self._key = self._taking = False
        self._video_pts: set[int] = set()
        self._audio_pts: set[int] = set()
        self._tasks: list[asyncio.Task] = []

    async def answer(self, sdp: str) -> str:
        """Take an offer from the server, start watching the tracks it adds and return the answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if self.decode:
            for t in self.pc.getTransceivers():
                if t.receiver.track is not None and not getattr(t, "_bench_watched", False):
                    t._bench_watched = True
                    self._tasks.append(asyncio.ensure_future(self._read(t.receiver.track)))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        if not self.decode:
            self._take_packets()  # every RTP packet is counted there, before aiortc's receive path
        return self.pc.localDescription.sdp

    def _take_packets(self) -> None:
        """Count RTP packets where they arrive, before aiortc's receive path: from the ICE
        connection, reading the RTP header (in clear under SRTP), so a counting subscriber costs
        a few microseconds a packet. Video packets are unprotected only until the first keyframe
        (its payload is needed to see it); STUN, DTLS and RTCP go on through aiortc."""
        for t in self.pc.getTransceivers():
            primary = {c.payloadType for c in getattr(t, "_codecs", []) if c.name.lower() != "rtx"}
            (self._video_pts if t.kind == "video" else self._audio_pts).update(primary)
        if self._taking:
            return
        dtls = self.pc.getTransceivers()[0].receiver.transport
        connection = self._connection = dtls.transport._connection
        through = connection.data_received

        def data_received(data: bytes, component: int) -> None:
            if len(data) < 12 or not 127 < data[0] < 192 or 192 <= data[1] <= 223 or dtls._rx_srtp is None:
                through(data, component)
                return
            self.packets += 1
            pt = data[1] & 0x7F
            if pt in self._audio_pts:
                self.audio_frames += 1
            elif pt in self._video_pts:
                if not self._key:
                    try:
                        packet = RtpPacket.parse(dtls._rx_srtp.unprotect(data), dtls._rtp_header_extensions_map)
                    except (ValueError, pylibsrtp.Error):
                        return
                    self._key = self.keyframe(packet.payload)
                if self._key and data[1] & 0x80:
                    self.video_frames += 1
                    self.first = self.first or now()
                    if self.batch:
                        from bench.drain import DRAINER

                        self.batched = DRAINER.take(self, connection, through)
                        self.batch = not self.batched
                        if self.batched:  # nothing to report: aiortc's receive path saw no packet
                            for t in self.pc.getTransceivers():
                                task = getattr(t.receiver, "_RTCRtpReceiver__rtcp_task", None)
                                if task is not None:
                                    task.cancel()

        connection.data_received = data_received
        self._taking = True

    async def _read(self, track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.first = self.first or now()
                else:
                    self.audio_frames += 1

    def counters(self) -> dict[str, Any]:
        return {"video_frames": self.video_frames, "audio_frames": self.audio_frames, "packets": self.packets,
                "first_frame_ms": None if self.first is None else round((self.first - self.joined) * 1000, 1),
                "decode": self.decode, "batched": self.batched}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        from bench.drain import DRAINER

        if DRAINER.forget(self):
            # aiortc's DTLS reader waits on the ICE connection's queue, which no packet reaches now
            self._connection._queue.put_nowait(None)
        await self.pc.close()


async def serve_commands(join: Callable[[dict[str, Any]], Awaitable[Any]], counters: Callable[[], Any]) -> None:
    """A subscriber worker's commands, one JSON object a line on stdin, each answered on stdout,
    until ``{"cmd": "quit"}`` or the end of stdin: ``{"cmd": "join", ...}`` → ``{"joined": await
    join(command)}``; ``{"cmd": "counters"}`` → ``{"t": now(), "subs": counters()}``."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        cmd = json.loads(line)
        if cmd["cmd"] == "join":
            print(json.dumps({"joined": await join(cmd)}), flush=True)
        elif cmd["cmd"] == "counters":
            print(json.dumps({"t": now(), "subs": counters()}), flush=True)
        elif cmd["cmd"] == "quit":
            break
