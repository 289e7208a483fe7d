"""The manifest of one recording: a JSON file listing what was recorded, where, and when.

A recording is made of segments: a recorder that restarts (or moves to another edge) adds one.
Each segment lists its files, one per recorded track, with the offset of the track's first frame
from the recording's start on the shared meeting clock (:mod:`recorder.clock`), so a player or a
compositor can line the files up. ``speakers`` is the active speaker timeline on the same clock.
Paths are relative to the manifest's folder. The file is replaced atomically on every save.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Literal

import msgspec

VERSION = 1


def iso_utc(unix_seconds: float) -> str:
    """``2024-05-01T12:00:00.250Z``: Unix seconds as an ISO 8601 UTC time with milliseconds."""
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecordedFile(msgspec.Struct, kw_only=True):
    """One track's file."""

    participant_id: str
    participant_name: str = ""
    source: Literal["microphone", "camera", "screen"]
    kind: Literal["audio", "video"]
    codec: str
    path: str                 # relative to the manifest, with forward slashes
    start_offset_s: float     # first frame, from the recording's start on the meeting clock
    duration_s: float = 0.0
    frames: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        path = PurePosixPath(self.path)
        if not self.path or path.is_absolute() or ".." in path.parts or "\\" in self.path:
            raise ValueError(f"path {self.path!r} must be relative and stay inside the recording")


class Segment(msgspec.Struct, kw_only=True):
    """What one run of a recorder wrote."""

    started_at: str           # ISO 8601 UTC
    start_offset_s: float = 0.0
    ended_at: str | None = None
    files: list[RecordedFile] = msgspec.field(default_factory=list)


class SpeakerSpan(msgspec.Struct, array_like=True):
    """``[participant_id, from_s, to_s]``: who was the active speaker, in recording seconds."""

    participant_id: str
    from_s: float
    to_s: float


class Manifest(msgspec.Struct, kw_only=True):
    recording_id: str
    meeting_id: str
    started_at: str           # ISO 8601 UTC: the origin of every offset
    version: int = VERSION
    segments: list[Segment] = msgspec.field(default_factory=list)
    speakers: list[SpeakerSpan] = msgspec.field(default_factory=list)

    def add_segment(self, started_at: str, start_offset_s: float) -> Segment:
        """Begin a new segment (a recorder started or restarted) and return it."""
        segment = Segment(started_at=started_at, start_offset_s=start_offset_s)
        self.segments.append(segment)
        return segment

    def add_speaker(self, participant_id: str, from_s: float, to_s: float) -> None:
        """Extend the timeline; a span that continues the last one of the same speaker joins it."""
        last = self.speakers[-1] if self.speakers else None
        if last is not None and last.participant_id == participant_id and from_s <= last.to_s + 1e-6:
            last.to_s = max(last.to_s, to_s)
        else:
            self.speakers.append(SpeakerSpan(participant_id, from_s, to_s))


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Manifest)


def dumps(manifest: Manifest) -> bytes:
    return msgspec.json.format(_encoder.encode(manifest), indent=2) + b"\n"


def loads(data: bytes | str) -> Manifest:
    """Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` for a bad manifest."""
    return _decoder.decode(data)


def load(path: str | os.PathLike[str]) -> Manifest:
    with open(path, "rb") as f:
        return loads(f.read())


def save(path: str | os.PathLike[str], manifest: Manifest) -> None:
    """Write *path* atomically: a temporary file in the same folder, synced, then renamed over it."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, temp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(dumps(manifest))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
