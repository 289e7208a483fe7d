"""Many participants in real Chromium: eleven people in a meeting do not fit one page of tiles.
The page shows nine and a pager; the tiles of the other page are reported hidden in the view
message, so the edge sends them nothing; the active speaker (a browser with the fake microphone,
on the second page) is kept on the page shown; turning the page shows the others, whose video
then flows and whose tile shows its connection quality."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.stack import Stack
from tests.e2e.ui import joined, sign_in, tile, wait_for
from tests.support.participant import Participant

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

NO_CAMERA = "localStorage.setItem('cc.prejoin', JSON.stringify({noCamera: true}))"
#: Ana listens: her fake microphone (a beep, like Ben's) would compete for the active speaker.
MUTED_NO_CAMERA = "localStorage.setItem('cc.prejoin', JSON.stringify({noCamera: true, muted: true}))"


class Seat:
    """A participant that only holds a seat over signaling (no media): one more tile, no CPU."""

    def __init__(self, ws, task: asyncio.Task) -> None:  # noqa: ANN001
        self.ws, self.task = ws, task

    @classmethod
    async def take(cls, base: str, meeting_id: str, name: str) -> Seat:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            granted = (await http.post(f"/api/v1/meetings/{meeting_id}/join", json={"display_name": name})).json()
        ws = await connect(granted["edge_url"], proxy=None)
        await ws.send(json.dumps({"type": "join", "id": "j", "token": granted["token"], "meeting_id": meeting_id}))
        while json.loads(await ws.recv())["type"] != "joined":
            pass

        async def drain() -> None:  # read (and drop) what the edge sends; ping so it keeps the seat
            with contextlib.suppress(Exception):
                while True:
                    try:
                        await asyncio.wait_for(ws.recv(), 20)
                    except TimeoutError:
                        await ws.send(json.dumps({"type": "ping", "t": 0}))
        return cls(ws, asyncio.get_running_loop().create_task(drain()))

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def test_pages_of_tiles_keep_the_active_speaker_in_view(stack: Stack, browsers) -> None:  # noqa: ANN001
    ana, ben = stack.add_person("ana-many", "Ana Many", "host"), stack.add_person("ben-many", "Ben Speaker")
    meeting_id = stack.create_meeting(ana, "Crowd", allow_guests=True)
    pa = await browsers.page("ana-many")
    await sign_in(pa, stack.url, ana)
    await pa.evaluate(MUTED_NO_CAMERA)
    await pa.goto(f"{stack.url}/m/{meeting_id}")
    await pa.get_by_test_id("join-button").click()
    await joined(pa)
    seats: list[Seat] = []
    viewer: Participant | None = None
    pb = None
    try:
        for i in range(8):                                   # page one: Ana and eight more
            seats.append(await Seat.take(stack.url, meeting_id, f"Seat {i + 1}"))
        viewer = await Participant.join(stack.url, meeting_id, "Vic Video")   # page two
        await viewer.publish(("camera",))
        pb = await browsers.page("ben-many")
        await sign_in(pb, stack.url, ben)
        await pb.evaluate(NO_CAMERA)
        await pb.goto(f"{stack.url}/m/{meeting_id}")
        await pb.get_by_test_id("join-button").click()
        ben_id = await joined(pb)
        vic_id = viewer.participant_id

        await wait_for(lambda: pa.evaluate("window.__cc.room.state.participants.size === 11"), what="eleven people")
        label = pa.get_by_test_id("grid-page")
        await label.filter(has_text="1 / 2").wait_for()
        assert await pa.get_by_test_id("tile").count() == 9
        # Ben speaks (the fake microphone): his tile takes the page's last place, Vic's stays away.
        await tile(pa, ben_id).and_(pa.locator("[data-speaking=true]")).wait_for(timeout=20000)
        assert await tile(pa, vic_id).count() == 0
        vic_track = await pa.evaluate(f"[...window.__cc.room.state.participants.get('{vic_id}').tracks.values()]"
                                      ".find((t) => t.source === 'camera').track_id")
        await wait_for(lambda: pa.evaluate(f"(window.__cc.view.sent?.hidden || []).includes('{vic_track}')"),
                       what="Vic's camera reported hidden while he is on the other page")

        await pa.get_by_test_id("grid-next").click()
        await label.filter(has_text="2 / 2").wait_for()
        vic = tile(pa, vic_id)
        await vic.wait_for()
        await wait_for(lambda: pa.evaluate(
            f"(window.__cc.view.sent?.tracks || []).some((t) => t.track_id === '{vic_track}' && t.width > 0)"),
            what="Vic's camera in the view once his page is shown")
        quality = vic.get_by_test_id("tile-quality")
        await quality.wait_for(timeout=20000)                 # his video arrives, and its quality is shown
        assert await quality.get_attribute("data-level") in ("good", "fair", "poor")
        await pa.get_by_test_id("grid-prev").click()
        await label.filter(has_text="1 / 2").wait_for()
    finally:
        for seat in seats:
            await seat.close()
        if viewer is not None:
            await viewer.close()
        for page in (pa, pb):
            if page is not None:
                await page.evaluate("localStorage.removeItem('cc.prejoin')")
                await browsers.close_page(page)
