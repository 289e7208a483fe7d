"""The recording manifest (nodes.manifest): JSON round trip, validation and atomic saves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from nodes import manifest as m


def sample() -> m.Manifest:
    rec = m.Manifest(recording_id="rec-1", meeting_id="standup", started_at=m.iso_utc(1_700_000_000.25))
    first = rec.add_segment(m.iso_utc(1_700_000_000.25), 0.0)
    first.files.append(m.RecordedFile(participant_id="p1", participant_name="Ada", source="microphone", kind="audio",
                                      codec="opus", path="seg0/p1-mic.webm", start_offset_s=0.12, duration_s=61.5,
                                      frames=3075, bytes=412_000))
    first.files.append(m.RecordedFile(participant_id="p1", participant_name="Ada", source="camera", kind="video",
                                      codec="VP8", path="seg0/p1-cam.webm", start_offset_s=0.31, duration_s=61.2,
                                      frames=918, bytes=5_300_000))
    first.ended_at = m.iso_utc(1_700_000_062.0)
    second = rec.add_segment(m.iso_utc(1_700_000_070.0), 69.75)       # the recorder restarted
    second.files.append(m.RecordedFile(participant_id="p2", participant_name="Grace Hopper ☕", source="screen",
                                       kind="video", codec="H264", path="seg1/p2-screen.mkv", start_offset_s=70.0))
    rec.add_speaker("p1", 0.5, 3.0)
    rec.add_speaker("p1", 3.0, 4.5)                                   # continues: joined
    rec.add_speaker("p2", 71.0, 72.0)
    return rec


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    rec = sample()
    path = tmp_path / "manifest.json"
    m.save(path, rec)
    assert m.load(path) == rec
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["started_at"] == "2023-11-14T22:13:20.250Z" and doc["version"] == 1
    assert doc["speakers"] == [["p1", 0.5, 4.5], ["p2", 71.0, 72.0]]
    assert [len(s["files"]) for s in doc["segments"]] == [2, 1]
    assert doc["segments"][0]["files"][1] == {
        "participant_id": "p1", "participant_name": "Ada", "source": "camera", "kind": "video", "codec": "VP8",
        "path": "seg0/p1-cam.webm", "start_offset_s": 0.31, "duration_s": 61.2, "frames": 918, "bytes": 5_300_000}
    assert doc["segments"][1]["ended_at"] is None
    assert sorted(os.listdir(tmp_path)) == ["manifest.json"]


def test_a_save_replaces_the_file_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.json"
    rec = sample()
    m.save(path, rec)
    before = path.read_bytes()
    rec.speakers.clear()

    def broken(_: m.Manifest) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(m, "dumps", broken)
    with pytest.raises(OSError):
        m.save(path, rec)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["manifest.json"]
    monkeypatch.undo()
    m.save(path, rec)
    assert m.load(path).speakers == [] and oct(path.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.webm", "seg0/../../x.webm", "seg0\\x.webm", ""])
def test_file_paths_stay_inside_the_recording(bad: str) -> None:
    doc = json.loads(m.dumps(sample()))
    doc["segments"][0]["files"][0]["path"] = bad
    with pytest.raises(msgspec.ValidationError, match="relative"):
        m.loads(json.dumps(doc))


def test_unknown_sources_and_missing_fields_are_refused() -> None:
    doc = json.loads(m.dumps(sample()))
    doc["segments"][0]["files"][0]["source"] = "hologram"
    with pytest.raises(msgspec.ValidationError):
        m.loads(json.dumps(doc))
    with pytest.raises(msgspec.ValidationError):
        m.loads(b'{"recording_id": "r", "started_at": "2024-01-01T00:00:00.000Z"}')
    assert m.iso_utc(0) == "1970-01-01T00:00:00.000Z"
