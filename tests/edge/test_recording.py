"""A recorder records a meeting through the real edge: it joins over the signaling protocol with
a hidden seat, receives every track over real UDP, and writes each as it arrives — no decoder, no
encoder — into files that Debian's ffprobe and ffmpeg read and decode without an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiortc.rtcrtpreceiver
import pytest

from nodes import manifest
from recorder.recording import Recording
from recorder.session import Session
from tests.edge.edge_support import MEETING, MODERATOR, EdgeServer, TokenKit, joined_client
from tests.edge.sfu.client import ToneTrack
from tests.edge.test_media import MediaClient
from tests.support.util import eventually, require

RECORDER = {"subscribe": True, "record": True}


def recorder_session(edge: EdgeServer, tokens: TokenKit, folder: Path, recording_id: str):  # noqa: ANN201
    """A recording in *folder*, its first segment, and a hidden recorder's session (not started)."""
    recording = Recording(folder, recording_id, MEETING)
    visit = recording.visit()
    session = Session(edge.ws_url(), tokens.sign(name="Recorder", perms=RECORDER, hidden=True), MEETING, visit.sink)
    return recording, visit, session


def probe(path: Path) -> dict:
    run = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def decode_errors(path: Path) -> str:
    run = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True,
                         text=True, timeout=60)
    return run.stderr if run.returncode == 0 else f"exit {run.returncode}: {run.stderr}"


async def test_a_recorder_writes_each_track_of_a_meeting_without_decoding(
        edge: EdgeServer, tokens: TokenKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require(shutil.which("ffprobe") is not None, "ffmpeg (apt-get install ffmpeg)")
    decoders: list[str] = []
    real = aiortc.rtcrtpreceiver.get_decoder

    def spy(codec):  # noqa: ANN001, ANN202 — any receiver in this process that decodes is seen here
        decoders.append(codec.name)
        return real(codec)
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", spy)

    host = MediaClient(await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host")))
    recording, visit, session = recorder_session(edge, tokens, tmp_path / "rec", "rec-1")
    running = asyncio.get_running_loop().create_task(session.run())
    try:
        await host.publish(audio=ToneTrack(speaking=True))
        await eventually(lambda: len(visit.tracks) == 2 and all(t.file.frames >= 60 for t in visit.tracks),
                         timeout=60, interval=0.2, what="60 frames of the host's audio and video written")
        await eventually(lambda: any(pid == host.id for _, pid in session.visit.speakers), timeout=10,
                         interval=0.1, what="the host heard as the active speaker")
    finally:
        await session.stop()
        seen = await asyncio.wait_for(running, 15)
        await host.close()
    recording.add_speakers(seen.speakers, time.time())
    segment = recording.finish(visit)
    assert seen.ended in ("stopped", "") or seen.ended.startswith("connection"), seen.ended
    assert decoders == []  # nothing was decoded: not by the recorder, not by anyone here

    saved = manifest.load(tmp_path / "rec" / "manifest.json")
    assert saved.recording_id == "rec-1" and saved.meeting_id == MEETING and len(saved.segments) == 1
    files = {f.kind: f for f in saved.segments[0].files}
    assert set(files) == {"audio", "video"} and segment.files == saved.segments[0].files
    assert {(f.source, f.codec, f.participant_name) for f in files.values()} == {
        ("microphone", "opus", "Host"), ("camera", "vp8", "Host")}
    assert abs(files["audio"].start_offset_s - files["video"].start_offset_s) < 0.15  # one clock: in sync
    spoke = [s for s in saved.speakers if s.participant_id == host.id]  # who spoke when, on the same clock
    assert spoke and spoke[0].to_s > spoke[0].from_s >= 0
    for f in files.values():
        path = tmp_path / "rec" / f.path
        info = probe(path)
        stream = info["streams"][0]
        assert stream["codec_name"] == f.codec
        if f.kind == "video":
            assert (stream["width"], stream["height"]) == (640, 480)
        assert abs(float(info["format"]["duration"]) - f.duration_s) < 0.25, (info["format"], f)
        assert f.duration_s > 1.0 and f.frames >= 60 and f.bytes >= f.frames  # (silence: 3 bytes an Opus frame)
        assert decode_errors(path) == "", path


def test_the_recorder_command_says_what_is_wrong_with_its_arguments(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "recorder", "--edge", "ws://127.0.0.1:9/ws", "--meeting", "m",
                          "--token-file", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "cannot read the token" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.long  # ./dev test-long: kept out of the suite's 15 minutes (it ran in every CI until 2026-12-07)
async def test_the_recorder_process_tells_systemd_records_until_sigterm_and_resumes_in_a_new_segment(
        edge: EdgeServer, tokens: TokenKit, tmp_path: Path) -> None:
    require(shutil.which("ffprobe") is not None, "ffmpeg (apt-get install ffmpeg)")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    token = tmp_path / "token"
    token.write_text(tokens.sign(name="Recorder", perms=RECORDER, hidden=True, exp=int(time.time()) + 600))
    out = tmp_path / "rec"
    host = MediaClient(await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host")))
    try:
        await host.publish()
        for segment in (1, 2):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "recorder", "--edge", edge.ws_url(), "--meeting", MEETING,
                "--token-file", str(token), "--out", str(out), "--recording-id", "rec-2",
                env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000",
                     "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            said: list[str] = []

            def told(line: str) -> bool:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        said.extend(notify.recv(4096).decode().splitlines())
                return line in said
            await eventually(lambda: told("READY=1"), timeout=30, interval=0.1, what="READY=1 from the recorder")
            await eventually(lambda: told("WATCHDOG=1"), timeout=10, interval=0.1, what="a watchdog ping")
            await eventually(lambda: len(list(out.glob(f"s{segment}-*"))) == 2, timeout=30, interval=0.2,
                             what=f"segment {segment}'s two files")
            await eventually(lambda: max(f.stat().st_size for f in out.glob(f"s{segment}-*")) > 20_000, timeout=30,
                             interval=0.2, what=f"segment {segment}'s video written to disk")
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, stderr.decode()[-2000:]
            assert b"Traceback" not in stderr and b"2 files" in stdout, (stdout, stderr)
            assert told("STOPPING=1")
    finally:
        await host.close()
        notify.close()
    saved = manifest.load(out / "manifest.json")
    assert saved.recording_id == "rec-2" and [len(s.files) for s in saved.segments] == [2, 2]
    assert saved.segments[1].start_offset_s > saved.segments[0].start_offset_s
    for s in saved.segments:
        assert s.ended_at is not None
        for f in s.files:
            assert decode_errors(out / f.path) == "", f.path
