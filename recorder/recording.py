"""One recording: a directory of track files and the manifest that describes them.

Each track a :class:`~recorder.session.Session` receives gets a :class:`TrackRecorder`: its RTP
packets are depacketized into encoded frames (:mod:`recorder.depacketize`), placed on the
meeting clock (:mod:`recorder.clock`: RTP time through the sender's reports, or arrival time
until one comes) and muxed as they are (:class:`~recorder.track_file.TrackFile`): no decoder, no
encoder. A recording is made of *segments*, one per visit of a recorder (a recorder that follows
the meeting to another edge, or a new recorder after one died, starts a new segment); the
manifest lists every file of every segment with its participant, source, start offset on the
recording's clock and duration.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from aiortc.rtp import RtpPacket

from nodes import manifest

from .clock import MeetingClock, StreamClock
from .depacketize import depacketizer_for
from .session import TrackInfo
from .track_file import TrackFile, file_extension

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe(name: str) -> str:
    """*name* as a file name part: letters, digits, ``-`` and ``_`` only."""
    return _UNSAFE.sub("_", name)[:40] or "_"


def probe_duration(path: Path) -> tuple[float, int]:
    """(duration in seconds, packets) of a track file, read by demuxing it (no decoder)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams[0]
            base = stream.time_base or Fraction(1, 1000)
            first = last = None
            count = 0
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                seconds = float(packet.pts * base)
                first = seconds if first is None else min(first, seconds)
                last = seconds if last is None else max(last, seconds)
                count += 1
            return (round(last - first, 3) if first is not None and last is not None else 0.0), count
    except (OSError, av.FFmpegError, IndexError):
        return 0.0, 0


class TrackRecorder:
    """One received track written to one file."""

    def __init__(self, info: TrackInfo, codec: str, clock_rate: int, path: Path, clock: MeetingClock) -> None:
        self.info = info
        self.codec = codec.lower()
        self.clock_rate = clock_rate
        self.path = path
        kind: Literal["audio", "video"] = "audio" if info.kind == "audio" else "video"
        self.file = TrackFile(path, kind, self.codec, clock_rate)
        self.depacketizer = depacketizer_for(self.codec)
        self._meeting_clock = clock
        self._clock: StreamClock | None = None
        self.failed = ""
        #: Called once the file has its first frame (the manifest lists it from then on).
        self.on_first_frame: Callable[[], None] | None = None

    def packet(self, packet: RtpPacket) -> None:
        if self.failed:
            return
        if self._clock is None:
            self._clock = self._meeting_clock.stream(packet.ssrc, self.clock_rate)
        now = time.time()
        try:
            for frame in self.depacketizer.push_packet(packet):
                self.file.write(self._clock.seconds(frame.rtp_timestamp, now), frame.data, frame.keyframe)
                if self.file.frames == 1 and self.on_first_frame is not None:
                    self.on_first_frame()
        except (OSError, ValueError) as exc:  # a full or unwritable disk: this track stops, the others go on
            self.failed = str(exc)
            log.warning("recording %s stopped: %s", self.path.name, exc)
            self.file.abandon()

    def sender_report(self, ssrc: int, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """The sender's NTP/RTP pair: from now on this track's frames are placed by it."""
        self._meeting_clock.sender_report(ssrc, ntp_timestamp, rtp_timestamp)

    def _close_quietly(self) -> None:
        try:
            self.file.close()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self.file.close()


class Visit:
    """The files of one recorder's visit (one segment of the recording)."""

    def __init__(self, directory: Path, number: int) -> None:
        self.directory = directory
        self.number = number
        self.clock = MeetingClock()
        self.started_at = time.time()
        self.tracks: list[TrackRecorder] = []
        #: Called when a track's file gets its first frame.
        self.on_change: Callable[[], None] | None = None

    def sink(self, info: TrackInfo, codec: str, clock_rate: int) -> TrackRecorder:
        """A new track's recorder (the :data:`~recorder.session.SinkFactory` of a session)."""
        name = f"s{self.number}-{safe(info.participant_id)}-{safe(info.source or info.kind)}-{safe(info.track_id)}"
        path = self.directory / (name + file_extension(codec.lower()))
        track = TrackRecorder(info, codec, clock_rate, path, self.clock)
        track.on_first_frame = self.on_change
        self.tracks.append(track)
        return track

    def files(self, origin: float) -> list[manifest.RecordedFile]:
        """What the manifest says of each file written (a track that never got a frame has none)."""
        out: list[manifest.RecordedFile] = []
        for t in self.tracks:
            f = t.file
            if f.first_ts is None:
                continue
            source = t.info.source if t.info.source in ("microphone", "camera", "screen") else (
                "microphone" if t.info.kind == "audio" else "camera")
            out.append(manifest.RecordedFile(
                participant_id=t.info.participant_id, participant_name=t.info.name, source=source,  # type: ignore[arg-type]
                kind="audio" if t.info.kind == "audio" else "video", codec=t.codec, path=t.path.name,
                start_offset_s=round(f.first_ts - origin, 3), duration_s=round(f.duration, 3), frames=f.frames,
                bytes=f.bytes))
        return out


class Recording:
    """A recording of one meeting in *directory*: its manifest (``manifest.json``) and files."""

    def __init__(self, directory: Path, recording_id: str, meeting_id: str) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "manifest.json"
        if self.path.exists():  # a recorder resumes a recording: a new segment follows the others
            self.manifest = manifest.load(self.path)
            self.origin = datetime.fromisoformat(self.manifest.started_at.replace("Z", "+00:00")).timestamp()
            self._recover()
        else:
            self.origin = time.time()
            self.manifest = manifest.Manifest(recording_id=recording_id, meeting_id=meeting_id,
                                              started_at=manifest.iso_utc(self.origin))
            manifest.save(self.path, self.manifest)

    def visit(self) -> Visit:
        """Begin a segment. Each file is listed in the manifest from its first frame on (with no
        duration until the segment ends), so a recorder that dies leaves its files listed."""
        v = Visit(self.directory, len(self.manifest.segments) + 1)
        segment = self.manifest.add_segment(manifest.iso_utc(v.started_at), round(v.started_at - self.origin, 3))
        manifest.save(self.path, self.manifest)

        def listed() -> None:
            segment.files = v.files(self.origin)
            try:
                manifest.save(self.path, self.manifest)
            except OSError as exc:  # the disk is full: the track's own write fails next and says so
                log.warning("manifest not saved: %s", exc)
        v.on_change = listed
        return v

    def _recover(self) -> None:
        """Segments a recorder left without ending (it was killed): their files' durations, frames
        and sizes are read back from the files (demuxed, not decoded) and the segment is closed."""
        changed = False
        for segment in self.manifest.segments:
            if segment.ended_at is not None:
                continue
            last = 0.0
            for f in segment.files:
                path = self.directory / f.path
                f.duration_s, f.frames = probe_duration(path)
                try:
                    stat = path.stat()
                    f.bytes, last = stat.st_size, max(last, stat.st_mtime)
                except OSError:
                    f.bytes = 0
            segment.ended_at = manifest.iso_utc(last or time.time())
            changed = True
        if changed:
            manifest.save(self.path, self.manifest)

    def add_speakers(self, changes: list[tuple[float, str | None]], until: float) -> None:
        """Who spoke when (changes of the active speaker, Unix time) into the manifest's timeline."""
        if not changes:
            return
        for (at, pid), (end, _) in zip(changes, [*changes[1:], (until, None)], strict=True):
            if pid and end > at:
                self.manifest.add_speaker(pid, round(at - self.origin, 3), round(end - self.origin, 3))
        manifest.save(self.path, self.manifest)

    def discard(self, v: Visit) -> None:
        """Drop a segment in which the recorder was never seated (nothing was recorded)."""
        for t in v.tracks:
            t._close_quietly()
        if len(self.manifest.segments) == v.number:
            self.manifest.segments.pop()
            manifest.save(self.path, self.manifest)

    def finish(self, v: Visit) -> manifest.Segment:
        """Close the segment's files and write what they hold into the manifest."""
        for t in v.tracks:
            try:
                t.close()
            except (OSError, ValueError) as exc:
                t.failed = t.failed or str(exc)
        segment = self.manifest.segments[v.number - 1]
        segment.files = v.files(self.origin)
        segment.ended_at = manifest.iso_utc(time.time())
        manifest.save(self.path, self.manifest)
        return segment
