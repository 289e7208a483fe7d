"""Recording a meeting end to end, with real processes: a NATS hub (each node its own user and
subject permissions, a recorder service among them), the control plane, an edge, the recorder
service, and a participant publishing real aiortc media. A host starts the recording through the
API, the recorder service is killed with SIGKILL and started again (it resumes in a new
segment), the host stops it, lists it, downloads its files (Debian's ffprobe reads them) and
deletes it; nobody else may see or fetch it. An operator's side of it too: the ``recording.ready``
webhook reaches a real HTTP endpoint, signed, and ``curious recordings show`` / ``fetch`` (the
console command in a subprocess) list and download what was recorded."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from control_plane.webhooks.signing import verify
from tests.support import procs
from tests.support.participant import Participant
from tests.support.regional import admin_headers, create_meeting, listed_edges, start_edge
from tests.support.topology import Topology
from tests.support.util import eventually, free_port, require
from tests.support.webhooks import Receiver

RECORDER = "rec-1"
HOOK_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def start_recorder(workdir: Path, topo: Topology, recordings: Path, *, max_file_bytes: int = 0) -> procs.Proc:
    """The recorder service; with *max_file_bytes*, no file it writes may grow past that (a full
    disk, as the process sees it: writes fail with EFBIG)."""
    proc = procs.recorder(workdir, topo.hub.url, RECORDER, dir=str(recordings), nats=topo.recorder_nats(RECORDER),
                          follow_timeout=30.0)
    if max_file_bytes:
        require(shutil.which("prlimit") is not None, "prlimit (apt-get install util-linux)")
        proc.wrap = ["prlimit", f"--fsize={max_file_bytes}"]
    return proc.start()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc], Path]]:
    require(shutil.which("ffprobe") is not None, "ffmpeg (apt-get install ffmpeg)")
    recordings = tmp_path / "recordings"
    topo = Topology(tmp_path, {"eu": ["eu-1", "eu-2"]}, recorders=[RECORDER]).start()
    hook_port = free_port()
    cp = procs.control_plane(tmp_path, topo.hub.url, nats=topo.control_plane_nats(),
                             events={"region_domains": ["eu"]}, accounts={"allow_registration": True},
                             recordings={"dir": str(recordings), "start_timeout": 20.0},
                             bootstrap={"admin_password_file": str(tmp_path / "admin-password")},
                             webhooks={"endpoints": [{"name": "ops", "url": f"http://127.0.0.1:{hook_port}/hooks",
                                                      "secret": HOOK_SECRET, "events": ["recording.ready"]}]}).start()
    edges = {e: start_edge(tmp_path, topo, e, "eu") for e in ("eu-1", "eu-2")}
    cp.hook_port = hook_port  # type: ignore[attr-defined]  # where the test may listen for webhooks
    try:
        cp.wait_http("/readyz", timeout=30)
        for edge in edges.values():
            edge.wait_http("/readyz", timeout=30)
        yield topo, cp, edges, recordings
    finally:
        for p in (*edges.values(), cp):
            p.kill()
        topo.stop()


async def register(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post("/api/v1/auth/register", json={"username": username, "password": f"{username}-password-1"})
    assert r.status_code == 201, r.text
    r = await http.post("/api/v1/auth/token", json={"username": username, "password": f"{username}-password-1"})
    http.cookies.clear()   # registering signed the client in: it speaks for nobody but by its headers
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def curious(cp: procs.Proc, headers: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``python -m curious ARGS`` against *cp* with the admin token of *headers*: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURIOUS_")}
    env.update(CURIOUS_URL=cp.base_url, CURIOUS_TOKEN=headers["Authorization"].removeprefix("Bearer "))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "curious", *args, env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def segment_files(folder: Path, segment: int) -> list[Path]:
    return [p for p in folder.glob(f"s{segment}-*") if p.stat().st_size > 3000]


async def test_a_host_records_a_meeting_through_the_api(stack, tmp_path: Path) -> None:  # noqa: ANN001
    topo, cp, _edges, recordings = stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="the edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin)
    hooks = await Receiver(failures=0, port=cp.hook_port).start()
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=30) as http:
        mia = await register(http, "mia")
        start = f"/api/v1/meetings/{mid}/recording"
        r = await http.post(start, headers=admin)
        assert r.status_code == 409 and "not live" in r.text, r.text   # nobody is in it yet

        ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
        recorder: procs.Proc | None = None
        try:
            await ann.publish()
            r = await http.post(start, headers=admin)
            assert r.status_code == 503 and "no recorder" in r.text, r.text   # no recorder service runs

            recorder = start_recorder(tmp_path, topo, recordings)
            recorder.wait_http("/readyz", timeout=30)
            r = await http.post(start, headers=mia)
            assert r.status_code == 403 and "owner" in r.text, r.text   # not her meeting
            lea = await register(http, "lea")                           # a co-host, but a member account
            assert (await http.patch(f"/api/v1/meetings/{mid}", json={"cohosts": ["lea"]},
                                     headers=admin)).status_code == 200
            r = await http.post(start, headers=lea)
            assert r.status_code == 403 and "record grant" in r.text, r.text
            r = await http.patch(f"/api/v1/meetings/{mid}", json={"auto_record": True}, headers=lea)
            assert r.status_code == 403 and "auto_record" in r.text, r.text

            r = await http.post(start, headers=admin)
            assert r.status_code == 201, r.text
            rec = r.json()
            assert rec["state"] == "recording" and rec["meeting_id"] == mid
            rid, folder = rec["id"], recordings / rec["id"]
            r = await http.post(start, headers=admin)
            assert r.status_code == 409 and "already being recorded" in r.text, r.text   # not a second recorder

            async def recording_since() -> str | None:
                return (await http.get(f"/api/v1/meetings/{mid}", headers=admin)).json()["recording_since"]
            await eventually(recording_since, timeout=10, what="recording_since set (the edge's event)")
            await eventually(lambda: len(segment_files(folder, 1)) == 2, timeout=40, interval=0.2,
                             what="the first segment's audio and video written")
            r = await http.delete(f"/api/v1/recordings/{rid}", headers=admin)
            assert r.status_code == 409 and "being written" in r.text, r.text
            code, _, err = await curious(cp, admin, "recordings", "fetch", rid, "--out", str(tmp_path / "cli"))
            assert code == 6 and "still being written" in err, (code, err)   # EXIT_REFUSED, one clear line

            # The recorder dies; started again, it resumes the recording in a new segment.
            recorder.kill()
            recorder = start_recorder(tmp_path, topo, recordings)
            await eventually(lambda: len(segment_files(folder, 2)) == 2, timeout=60, interval=0.2,
                             what="the second segment's audio and video written")
            r = await http.post(f"/api/v1/meetings/{mid}/recording/stop", headers=admin)
            assert r.status_code == 200, r.text
            done = r.json()
        finally:
            await ann.close()
            if recorder is not None:
                recorder.signal(signal.SIGTERM)
                recorder.stop()

        assert done["state"] == "stopped" and done["segments"] == 2, done
        tracks = done["tracks"]
        assert sorted((t["segment"], t["kind"]) for t in tracks) == [(1, "audio"), (1, "video"), (2, "audio"),
                                                                      (2, "video")], tracks
        assert all(t["participant_name"] == "Ann" and t["bytes"] > 0 for t in tracks)
        assert done["bytes"] > sum(t["bytes"] for t in tracks) and done["duration_s"] > 1
        listed = (await http.get(f"/api/v1/meetings/{mid}/recordings", headers=admin)).json()
        assert [x["id"] for x in listed] == [rid] and listed[0]["tracks"] == tracks

        video = next(t for t in tracks if t["kind"] == "video" and t["segment"] == 2)
        r = await http.get(f"/api/v1/recordings/{rid}/files/{video['file']}", headers=admin)
        assert r.status_code == 200 and r.headers["content-type"].startswith("video/webm")
        (tmp_path / "download.webm").write_bytes(r.content)
        run = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(tmp_path / "download.webm")],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and json.loads(run.stdout)["streams"][0]["codec_name"] == "vp8", run.stderr
        manifest = (await http.get(done["manifest_url"], headers=admin)).json()
        assert manifest["recording_id"] == rid and len(manifest["segments"]) == 2

        # The operator's side: the webhook, signed, and the command line.
        def ready() -> list[tuple[dict[str, str], bytes]]:
            return [(h, b) for _, h, b in hooks.requests if json.loads(b)["type"] == "recording.ready"]
        (headers, body), = await eventually(ready, timeout=20, what="the recording.ready webhook")
        await hooks.stop()
        assert verify(HOOK_SECRET, headers, body) and headers["webhook-id"] == f"msg_rec_{rid}"
        data = json.loads(body)["data"]
        assert (data["recording_id"], data["meeting_id"], data["state"]) == (rid, mid, "stopped"), data
        assert data["manifest_url"] == f"/api/v1/recordings/{rid}/files/manifest.json"
        code, out, err = await curious(cp, admin, "--json", "recordings", "show", rid)
        assert code == 0, err
        assert json.loads(out)["tracks"] == tracks
        code, out, err = await curious(cp, admin, "--json", "recordings", "fetch", rid, "--out", str(tmp_path / "cli"))
        assert code == 0, err
        fetched = json.loads(out)
        assert {f["file"] for f in fetched["files"]} == {"manifest.json", *(t["file"] for t in tracks)}
        on_disk = tmp_path / "cli" / rid
        assert all((on_disk / t["file"]).stat().st_size == t["bytes"] for t in tracks)
        assert json.loads((on_disk / "manifest.json").read_text())["recording_id"] == rid
        assert (on_disk / video["file"]).read_bytes() == (tmp_path / "download.webm").read_bytes()

        for who, status in ((mia, 403), ({}, 401)):    # another account, nobody signed in
            assert (await http.get(f"/api/v1/recordings/{rid}", headers=who)).status_code == status
            assert (await http.get(f"/api/v1/recordings/{rid}/files/{video['file']}", headers=who)).status_code \
                == status
            assert (await http.get(f"/api/v1/meetings/{mid}/recordings", headers=who)).status_code == status
            assert (await http.delete(f"/api/v1/recordings/{rid}", headers=who)).status_code == status
        for name in ("..%2Fcp.sqlite3", "job.json", "nothing.webm"):
            assert (await http.get(f"/api/v1/recordings/{rid}/files/{name}", headers=admin)).status_code == 404

        r = await http.post(f"/api/v1/meetings/{mid}/recording/stop", headers=admin)
        assert r.status_code == 409 and "not being recorded" in r.text
        assert (await http.delete(f"/api/v1/recordings/{rid}", headers=admin)).status_code == 204
        assert not folder.exists()
        assert (await http.get(f"/api/v1/recordings/{rid}", headers=admin)).status_code == 404


async def test_a_moderator_records_from_the_room_and_the_recording_follows_the_meeting_to_another_edge(
        stack, tmp_path: Path) -> None:  # noqa: ANN001
    """Start and stop over signaling (the edge asks the control plane over NATS); the meeting's
    edge is killed and the recorder follows the meeting to the other edge, in a new segment."""
    topo, cp, edges, recordings = stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="the edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin)
    recorder = start_recorder(tmp_path, topo, recordings)
    host = await Participant.join(cp.base_url, mid, admin, region="eu")
    ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
    try:
        recorder.wait_http("/readyz", timeout=30)
        await ann.publish()
        refused = await ann.ask({"type": "record", "action": "start"})
        assert refused["type"] == "error" and refused["code"] == "forbidden", refused   # a guest has no grant
        started = await host.ask({"type": "record", "action": "start"})
        assert started["type"] == "ok", started
        await eventually(lambda: any(m["type"] == "recording" and m["active"] for m in ann.seen), timeout=10,
                         what="ann told she is recorded")
        again = await host.ask({"type": "record", "action": "start"})
        assert again["type"] == "error" and again["code"] == "recording_refused" and "already" in again["message"]
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=30) as http:
            listed = (await http.get(f"/api/v1/meetings/{mid}/recordings", headers=admin)).json()
        assert [r["state"] for r in listed] == ["recording"]
        folder = recordings / listed[0]["id"]
        await eventually(lambda: len(segment_files(folder, 1)) == 2, timeout=40, interval=0.2,
                         what="the first segment written")

        home = ann.edge.edge_id
        other = next(e for e in edges if e != home)
        edges[home].kill()
        await eventually(lambda: len(segment_files(folder, 2)) == 2, timeout=60, interval=0.2,
                         what="the recorder on the other edge, writing a second segment")
        await eventually(lambda: host.edge.edge_id == other and host.connected.is_set(), timeout=30,
                         what="the host on the other edge")
        stopped = await host.ask({"type": "record", "action": "stop"})
        assert stopped["type"] == "ok", stopped
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=30) as http:
            done = (await http.get(f"/api/v1/recordings/{listed[0]['id']}", headers=admin)).json()
        assert done["state"] == "stopped" and done["segments"] == 2, done
        assert {(t["segment"], t["kind"]) for t in done["tracks"]} == {(1, "audio"), (1, "video"), (2, "audio"),
                                                                      (2, "video")}
    finally:
        await ann.close()
        await host.close()
        recorder.stop()


@pytest.mark.allow_errors(r"recorder\.job: recording \S+ stopped: cannot write the recording",
                          reason="the test fills the recorder's disk: the recorder says so")
async def test_a_full_disk_stops_the_recording_with_an_error_and_forwarding_goes_on(stack, tmp_path: Path) -> None:  # noqa: ANN001
    topo, cp, _edges, recordings = stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="the edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin)
    recorder = start_recorder(tmp_path, topo, recordings, max_file_bytes=25_000)
    host = await Participant.join(cp.base_url, mid, admin, region="eu")
    ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
    try:
        recorder.wait_http("/readyz", timeout=30)
        await ann.publish()
        await host.wait_frames(10)
        started = await host.ask({"type": "record", "action": "start"})
        assert started["type"] == "ok", started
        notice = await eventually(lambda: next((m for m in host.seen if m["type"] == "recording"
                                                and not m["active"]), None), timeout=60, interval=0.2,
                                  what="the moderator told the recording stopped")
        assert "cannot write the recording" in notice["error"], notice
        since = time.monotonic()
        await host.wait_frames(30, since=since)     # forwarding goes on
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=30) as http:
            async def failed() -> dict | None:
                listed = (await http.get(f"/api/v1/meetings/{mid}/recordings", headers=admin)).json()
                return listed[0] if listed and listed[0]["state"] == "failed" else None
            rec = await eventually(failed, timeout=20, what="the recording marked failed")
        assert "cannot write the recording" in rec["error"] and rec["tracks"], rec
        for track in rec["tracks"]:                 # what was written so far plays
            path = recordings / rec["id"] / track["file"]
            run = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0 and not run.stderr.strip(), (track, run.stderr)
    finally:
        await ann.close()
        await host.close()
        recorder.stop()


async def test_a_meeting_that_records_by_itself(stack, tmp_path: Path) -> None:  # noqa: ANN001
    """``auto_record``: the first one to join starts the recording; it ends with the meeting."""
    topo, cp, _edges, recordings = stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="the edges listed")
    admin = await admin_headers(cp)
    mid = await create_meeting(cp, admin, auto_record=True)
    recorder = start_recorder(tmp_path, topo, recordings)
    try:
        recorder.wait_http("/readyz", timeout=30)
        ann = await Participant.join(cp.base_url, mid, "Ann", region="eu")
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=30) as http:
            async def listed() -> list[dict]:
                return (await http.get(f"/api/v1/meetings/{mid}/recordings", headers=admin)).json()
            try:
                await ann.publish()
                first = await eventually(listed, timeout=30, what="the recording started by itself")
                assert first[0]["state"] == "recording" and first[0]["started_by"] == ""
                await eventually(lambda: any(m["type"] == "recording" and m["active"] for m in ann.seen),
                                 timeout=10, what="ann told she is recorded")
                await eventually(lambda: len(segment_files(recordings / first[0]["id"], 1)) == 2, timeout=40,
                                 interval=0.2, what="ann's audio and video recorded")
            finally:
                await ann.close()
            done = await eventually(lambda: _stopped(listed), timeout=30, what="the recording over with the meeting")
        assert done["reason"].startswith("meeting_ended"), done
    finally:
        recorder.stop()


async def _stopped(listed) -> dict | None:  # noqa: ANN001
    found = await listed()
    return found[0] if found and found[0]["state"] == "stopped" else None
