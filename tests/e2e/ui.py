"""What a person does in the web app, as Playwright steps, and what the tests read from a page."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.e2e.stack import Person


async def wait_for(check, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):  # noqa: ANN001, ANN201
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


async def sign_in(page, base: str, person: Person) -> None:  # noqa: ANN001
    await page.goto(f"{base}/signin")
    await page.get_by_test_id("signin-username").fill(person.username)
    await page.get_by_test_id("signin-password").fill(person.password)
    await page.get_by_test_id("signin-submit").click()
    await page.wait_for_url("**/meetings")
    await page.get_by_test_id("account-name").filter(has_text=person.display_name).wait_for()


async def join(page, base: str, meeting_id: str, *, name: str = "", password: str = "") -> float:  # noqa: ANN001
    """Open the join link and click Join; returns the monotonic time of the click."""
    await page.goto(f"{base}/m/{meeting_id}")
    if name:
        await page.get_by_test_id("guest-name").fill(name)
    if password:
        await page.get_by_test_id("join-password").fill(password)
    clicked = time.monotonic()
    await page.get_by_test_id("join-button").click()
    return clicked


async def joined(page) -> str:  # noqa: ANN001
    """Wait until the room is connected and inside the meeting; the participant id."""
    await page.locator("[data-testid=conn-state][data-state=connected]").wait_for()
    return await wait_for(lambda: page.evaluate("window.__cc && window.__cc.participantId"), what="participant id")


async def inbound(page) -> list[dict]:  # noqa: ANN001
    return await page.evaluate("window.__cc ? window.__cc.inbound() : []")


async def frames(page, participant_id: str, source: str = "camera") -> int:  # noqa: ANN001
    """Video frames this page decoded from one participant's source (0 when not received)."""
    return sum(s["framesDecoded"] for s in await inbound(page)
               if s["kind"] == "video" and s["participantId"] == participant_id and s["source"] == source
               and s["active"])


async def frames_keep_coming(page, participant_id: str, source: str = "camera", timeout: float = 10.0) -> int:  # noqa: ANN001
    """Decoded frames from the participant increase (real media through the edge); the count reached."""
    first = await wait_for(lambda: frames(page, participant_id, source), timeout,
                           what=f"first decoded {source} frames from {participant_id}")
    return await wait_for(lambda: _above(page, participant_id, source, first + 10), timeout,
                          what=f"{source} frames from {participant_id} still increasing past {first}")


async def _above(page, participant_id: str, source: str, floor: int) -> int:  # noqa: ANN001
    n = await frames(page, participant_id, source)
    return n if n > floor else 0


async def audio_keeps_coming(page, participant_id: str, timeout: float = 10.0) -> int:  # noqa: ANN001
    async def samples() -> int:
        return sum(s["totalSamplesReceived"] for s in await inbound(page)
                   if s["kind"] == "audio" and s["participantId"] == participant_id and s["active"])
    first = await wait_for(samples, timeout, what=f"audio from {participant_id}")

    async def more() -> int:
        n = await samples()
        return n if n > first + 4800 else 0  # 0.1 s at 48 kHz
    return await wait_for(more, timeout, what=f"audio from {participant_id} still arriving")


def tile(page, participant_id: str, source: str = "camera"):  # noqa: ANN001, ANN201
    return page.locator(f"[data-testid=tile][data-participant-id='{participant_id}'][data-source={source}]")


async def open_panel(page, name: str) -> None:  # noqa: ANN001
    panel = page.get_by_test_id(f"{name}-panel")
    if not await panel.is_visible():
        await page.get_by_test_id(f"toggle-{name}").click()
    await panel.wait_for()


def roster_entry(page, participant_id: str):  # noqa: ANN001, ANN201
    return page.locator(f"[data-testid=roster-entry][data-participant-id='{participant_id}']")


async def video_on(page, edge_id: str) -> int:  # noqa: ANN001
    """Video frames this page decoded from the others since it is in on *edge_id* (0 until it is
    connected there: its peer connections to an earlier edge do not count)."""
    return await page.evaluate("""async (edgeId) => {
        const cc = window.__cc;
        if (!cc || cc.room.finished || cc.connection.state !== "connected" || cc.edge?.edge_id !== edgeId) return 0;
        const me = cc.participantId;
        return (await cc.inbound()).filter((s) => s.kind === "video" && s.active && s.participantId && s.participantId !== me)
            .reduce((n, s) => n + s.framesDecoded, 0);
    }""", edge_id)


async def edge_of(page) -> dict:  # noqa: ANN001
    """The edge the page's room is in: ``{edge_id, url, via}`` (via ``first``, ``same``, ``alternate``,
    ``control_plane``)."""
    return await page.evaluate("window.__cc.edge")


async def two_in_a_meeting(stack, browsers, host: tuple[str, str], member: tuple[str, str],  # noqa: ANN001
                           title: str) -> tuple[list, list[str], str]:
    """A host (user name, display name) creates a meeting through the API; host and member sign in
    on their own pages and join; media flows. Returns the pages, their participant ids, the meeting."""
    import httpx

    people = [stack.add_person(host[0], host[1], "host"), stack.add_person(member[0], member[1])]
    with httpx.Client(base_url=stack.url, timeout=10) as api:
        r = api.post("/api/v1/auth/login", json={"username": people[0].username, "password": people[0].password})
        api.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        meeting_id = api.post("/api/v1/meetings", json={"title": title}).json()["id"]
    pages = [await browsers.page(host[0]), await browsers.page(member[0])]
    ids = []
    for page, who in zip(pages, people):
        await sign_in(page, stack.url, who)
        await join(page, stack.url, meeting_id)
        ids.append(await joined(page))
    await frames_keep_coming(pages[0], ids[1])
    return pages, ids, meeting_id
