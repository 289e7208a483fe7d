"""What the recordings API answers."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct


class RecordedTrack(Struct, kw_only=True):
    """One file of a recording: a participant's microphone, camera or screen in one segment."""

    segment: int
    participant_id: str
    participant_name: str
    source: str
    kind: str
    codec: str
    #: The file's name: ``GET /api/v1/recordings/{id}/files/{file}`` downloads it.
    file: str
    start_offset_s: float
    duration_s: float
    bytes: int


class RecordingRead(Struct, kw_only=True):
    id: str
    meeting_id: str
    state: Literal["recording", "stopped", "failed"]
    started_at: str | None
    stopped_at: str | None = None
    #: Account id of who started it ("" when the meeting records by itself).
    started_by: str = ""
    #: Why it ended (stopped, the meeting ended, …) and, for a failed one, the error.
    reason: str = ""
    error: str = ""
    #: From the start to the end of the last track, seconds; bytes of every file and the manifest.
    duration_s: float = 0.0
    bytes: int = 0
    segments: int = 0
    tracks: list[RecordedTrack] = msgspec.field(default_factory=list)
    #: ``GET`` it for the manifest (docs/recording.md).
    manifest_url: str = ""
