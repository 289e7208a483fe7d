"""Lip sync over a minute of a recorded meeting: a publisher flashes its camera white and beeps its
microphone at the same instants, every two seconds for 60 s; the recorder writes both tracks
(no decoding there) and this test decodes the files, places every frame on the recording's clock
(the manifest's ``start_offset_s`` plus the frame's time in its file) and finds each flash within
100 ms of its beep."""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import shutil
import struct
import time
from pathlib import Path

import av
import pytest
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError, VideoStreamTrack

from nodes import manifest
from tests.edge.edge_support import MODERATOR, EdgeServer, TokenKit, joined_client
from tests.edge.test_media import MediaClient
from tests.edge.test_recording import recorder_session
from tests.support.util import eventually, require

PERIOD = 2.0      # seconds between markers
MARK = 0.2        # how long each marker lasts
SECONDS = 60.0


def marked(t: float) -> bool:
    return (t % PERIOD) < MARK


class FlashTrack(VideoStreamTrack):
    """320×240 at 30 fps: white while :func:`marked` (wall clock since *t0*), else dark."""

    def __init__(self, t0: float) -> None:
        super().__init__()
        self.t0 = t0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(width=320, height=240)
        frame.planes[0].update((b"\xe0" if marked(time.time() - self.t0) else b"\x20") * (320 * 240))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class BeepTrack(AudioStreamTrack):
    """48 kHz mono: a 1 kHz beep while :func:`marked` (the frame's own time since *t0*), else silence."""

    def __init__(self, t0: float) -> None:
        super().__init__()
        self.t0 = t0
        self._n = 0
        self._start = 0.0
        samples = int(AUDIO_PTIME * 48000)
        self._beep = struct.pack(f"<{samples}h", *(int(12000 * math.sin(2 * math.pi * 1000 * i / 48000))
                                                   for i in range(samples)))
        self._silence = bytes(2 * samples)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples = int(AUDIO_PTIME * 48000)
        if self._n == 0:
            self._start = time.time()
        at = self._start + self._n * AUDIO_PTIME
        await asyncio.sleep(max(0.0, at - time.time()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(self._beep if marked(at - self.t0) else self._silence)
        frame.pts, frame.sample_rate, frame.time_base = self._n * samples, 48000, fractions.Fraction(1, 48000)
        self._n += 1
        return frame


def onsets(path: Path, offset: float, loud) -> list[float]:  # noqa: ANN001
    """Recording times at which *loud(frame)* turns true, decoding *path*."""
    found, was = [], False
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams[0]):
            now = loud(frame)
            if now and not was:
                found.append(offset + float(frame.pts * frame.time_base))
            was = now
    return found


def bright(frame: av.VideoFrame) -> bool:
    luma = bytes(frame.planes[0])
    return sum(luma[::101]) / len(luma[::101]) > 128


def beeping(frame: av.AudioFrame) -> bool:
    floats = frame.format.name in ("flt", "fltp")
    data = array.array("f" if floats else "h", bytes(frame.planes[0]))
    return max((abs(x) for x in data), default=0) / (1.0 if floats else 32768.0) > 0.1


@pytest.mark.long
async def test_a_recording_keeps_lip_sync_over_a_minute(edge: EdgeServer, tokens: TokenKit, tmp_path: Path) -> None:
    require(shutil.which("ffprobe") is not None, "ffmpeg (apt-get install ffmpeg)")
    t0 = time.time()
    host = MediaClient(await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host")))
    recording, visit, session = recorder_session(edge, tokens, tmp_path / "rec", "sync")
    running = asyncio.get_running_loop().create_task(session.run())
    try:
        await host.publish(audio=BeepTrack(t0), video=FlashTrack(t0))
        await eventually(lambda: len(visit.tracks) == 2 and all(t.file.frames > 0 for t in visit.tracks), timeout=30,
                         interval=0.2, what="both tracks recorded")
        started = time.monotonic()
        await eventually(lambda: time.monotonic() - started >= SECONDS, timeout=SECONDS + 5, interval=1.0,
                         what="a minute of the meeting recorded")
    finally:
        await session.stop()
        await asyncio.wait_for(running, 15)
        await host.close()
    recording.finish(visit)
    files = {f.kind: f for f in manifest.load(tmp_path / "rec" / "manifest.json").segments[0].files}
    video = onsets(tmp_path / "rec" / files["video"].path, files["video"].start_offset_s, bright)
    audio = onsets(tmp_path / "rec" / files["audio"].path, files["audio"].start_offset_s, beeping)
    assert len(video) >= SECONDS / PERIOD - 2 and len(audio) >= SECONDS / PERIOD - 2, (video, audio)
    skews = []
    for v in video:
        a = min(audio, key=lambda x: abs(x - v))
        skews.append(round(v - a, 3))
    print(f"lip sync: {len(skews)} flashes over {video[-1] - video[0]:.1f} s, video - audio from "
          f"{min(skews) * 1000:.0f} to {max(skews) * 1000:.0f} ms")
    assert max(abs(s) for s in skews) < 0.1, skews            # every flash within 100 ms of its beep
    assert video[-1] - video[0] >= SECONDS - 2 * PERIOD       # over the whole minute
