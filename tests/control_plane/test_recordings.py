"""The control plane's side of recordings, in process: retention, and what recorders may say about
which recordings (the recorder's id comes from the subject its NATS user may publish on)."""

from __future__ import annotations

import time
from pathlib import Path

from nodes import subjects, wire
from tests.control_plane.conftest import ControlPlane
from tests.control_plane.meetings_support import admin, create_meeting

DAY = 86400.0


async def add_recording(cp: ControlPlane, folder: Path, rid: str, meeting_id: str, *, started: float,
                        stopped: float | None, recorder: str = "rec-1") -> Path:
    svc = cp.services.recordings
    assert svc is not None
    assert await svc.repo.insert(rid, meeting_id, "admin", started)
    await svc.repo.set_recorder(rid, recorder)
    if stopped is not None:
        assert await svc.repo.finish(rid, stopped, reason="stopped")
    (folder / rid).mkdir(parents=True)
    (folder / rid / "s1-a-camera-t.webm").write_bytes(b"x" * 100)
    return folder / rid


async def test_finished_recordings_expire_after_the_retention(control_plane, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "recordings"
    async with control_plane(recordings={"dir": str(folder), "retention_days": 1.0}) as cp:
        headers = await admin(cp)
        a, b = (await create_meeting(cp, headers))["id"], (await create_meeting(cp, headers))["id"]
        now = time.time()
        old = await add_recording(cp, folder, "old", a, started=now - 3 * DAY, stopped=now - 2 * DAY)
        recent = await add_recording(cp, folder, "recent", a, started=now - DAY, stopped=now - DAY / 2)
        writing = await add_recording(cp, folder, "writing", b, started=now - 5 * DAY, stopped=None)
        assert await cp.services.recordings.sweep(now) == 1
        assert not old.exists() and recent.exists() and writing.exists()
        assert (await cp.client.get("/api/v1/recordings/old", headers=headers)).status_code == 404
        listed = (await cp.client.get(f"/api/v1/meetings/{a}/recordings", headers=headers)).json()
        assert [r["id"] for r in listed] == ["recent"]
        writing_now = (await cp.client.get("/api/v1/recordings/writing", headers=headers)).json()
        assert writing_now["state"] == "recording"          # one being written never expires
        assert await cp.services.recordings.sweep(now) == 0


async def test_a_recorder_speaks_only_of_its_own_recordings(control_plane, tmp_path: Path) -> None:  # noqa: ANN001
    from control_plane.recordings.endpoint import RecorderReports

    folder = tmp_path / "recordings"
    async with control_plane(recordings={"dir": str(folder)}) as cp:
        meeting = (await create_meeting(cp, await admin(cp)))["id"]
        await add_recording(cp, folder, "r1", meeting, started=time.time(), stopped=None, recorder="rec-1")
        reports = RecorderReports(cp.services.recordings)
        done = wire.encode(wire.RecordDone(recording_id="r1", meeting_id=meeting, reason="stopped"))

        forged = await reports.answer(subjects.recorder_report("rec-2", "done"), done)
        assert isinstance(forged, wire.RecordReply) and not forged.ok and "this recorder" in forged.error
        rejoin = wire.encode(wire.RecordRejoin(recording_id="r1", meeting_id=meeting))
        forged = await reports.answer(subjects.recorder_report("rec-2", "rejoin"), rejoin)
        assert isinstance(forged, wire.RecordRejoinReply) and not forged.ok and not forged.token
        wrong_meeting = wire.encode(wire.RecordDone(recording_id="r1", meeting_id="0" * 32))
        assert not (await reports.answer(subjects.recorder_report("rec-1", "done"), wrong_meeting)).ok
        state = (await cp.services.recordings.repo.get("r1"))["state"]
        assert state == "recording"                          # nothing a forger said changed it

        for subject, data, error in (
                (subjects.recorder_report("rec-1", "done"), b"{not json", "bad_request"),
                (subjects.recorder_report("rec-1", "done"), b'{"type": "rec.done"}', "bad_request"),
                (subjects.recorder_report("rec-1", "rejoin"), done, "bad_request"),   # a done on rejoin
                ("cc.cp.rec.too.many.tokens", done, "bad_subject")):
            reply = await reports.answer(subject, data)
            assert isinstance(reply, wire.ErrorReply) and reply.error == error, (subject, reply)

        ok = await reports.answer(subjects.recorder_report("rec-1", "done"), done)
        assert isinstance(ok, wire.RecordReply) and ok.ok
        assert (await cp.services.recordings.repo.get("r1"))["state"] == "stopped"
