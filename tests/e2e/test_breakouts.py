"""Breakout rooms in three browsers: a host opens two rooms from the room's panel, sending a member to
the first and letting a guest choose; each lands in a room of their own (its name shown, alone
there), the host's message reaches both rooms, and bringing everyone back puts the three together
again, seeing each other. axe-core checks the panel, the choice and the message."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.e2e.axe import violations
from tests.e2e.stack import Stack
from tests.e2e.ui import frames_keep_coming, join, joined, open_panel, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def _clean(page, where: str) -> None:  # noqa: ANN001
    found = await violations(page)
    assert not found, f"{where}: {found}"


async def _alone(page, meeting_id: str) -> bool:  # noqa: ANN001
    """In a room of its own (another meeting than *meeting_id*), the only one there, no one else's tile."""
    return await page.evaluate("""(main) => {
        const cc = window.__cc;
        if (!cc || !cc.participantId || cc.room.meeting.id === main) return false;
        const others = [...document.querySelectorAll("[data-testid=tile]")]
            .filter((t) => t.dataset.participantId !== cc.participantId);
        return cc.room.state.participants.size === 1 && others.length === 0;
    }""", meeting_id)


async def _together(page, meeting_id: str) -> str:  # noqa: ANN001
    """Back in the main meeting with all three: the page's participant id."""
    return await page.evaluate("""(main) => {
        const cc = window.__cc;
        return cc && cc.room.meeting.id === main && !cc.room.finished && cc.room.state.participants.size === 3
            && cc.connection.state === "connected" ? cc.participantId : "";
    }""", meeting_id)


async def test_breakout_rooms_with_a_host_a_member_and_a_guest(stack: Stack, browsers, artifacts: Path) -> None:  # noqa: ANN001
    hana, ivo_p = stack.add_person("bo-hana", "Hana Host", "host"), stack.add_person("bo-ivo", "Ivo Member")
    mid = stack.create_meeting(hana, "Workshop", allow_guests=True)
    host, ivo, jo = (await browsers.page("bo-hana"), await browsers.page("bo-ivo"), await browsers.page("bo-jo"))
    for page, person in ((host, hana), (ivo, ivo_p)):
        await sign_in(page, stack.url, person)
        await join(page, stack.url, mid)
    await join(jo, stack.url, mid, name="Jo Guest")
    ivo_id = await joined(ivo)
    for page in (host, ivo, jo):
        await joined(page)
        await wait_for(lambda page=page: page.evaluate("window.__cc.room.state.participants.size === 3"),
                       what="three in the meeting")
    admin = stack.admin()
    await wait_for(lambda: asyncio.to_thread(
        lambda: admin.get(f"/api/v1/meetings/{mid}/participants").json()["present"] == 3),
        what="the control plane's roster has all three")

    # the host opens two rooms: Ivo to the first, the others (Jo) choose; a ten-minute timer
    await open_panel(host, "breakouts")
    await host.locator(f"[data-testid=breakout-assign][data-participant-id='{ivo_id}']").wait_for()
    await _clean(host, "the breakout rooms panel")
    await host.locator(f"[data-testid=breakout-assign][data-participant-id='{ivo_id}']").select_option("1")
    await host.get_by_test_id("breakout-choose").check()
    await host.get_by_test_id("breakout-minutes").fill("10")
    await host.get_by_test_id("breakout-open").click()
    await host.get_by_test_id("breakout-status").filter(has_text="2 rooms are open.").wait_for()

    await ivo.get_by_test_id("room-title").filter(has_text="Room 1").wait_for()
    banner = await ivo.get_by_test_id("breakout-banner").inner_text()
    assert re.fullmatch(r"Breakout room of Workshop · (10:00|9:[0-5]\d) left", banner), banner
    await jo.get_by_test_id("breakout-chooser").wait_for()
    await _clean(jo, "the choice of a breakout room")
    await jo.screenshot(path=str(artifacts / "room-breakout-choice.png"))
    await jo.get_by_test_id("breakout-choice").filter(has_text="Room 2").click()
    await jo.get_by_test_id("room-title").filter(has_text="Room 2").wait_for()
    for page in (ivo, jo):
        await wait_for(lambda page=page: _alone(page, mid), what="alone in a breakout room")
    await wait_for(lambda: host.evaluate("window.__cc.room.state.participants.size === 1"),
                   what="the host alone in the main meeting")

    # a message to every room
    await host.get_by_test_id("breakout-message").fill("Five minutes left, then we meet again")
    await host.get_by_test_id("breakout-broadcast").click()
    for page in (ivo, jo):
        shown = page.get_by_test_id("breakout-notice")
        await shown.filter(has_text="Five minutes left, then we meet again").wait_for()
        assert "Message from Hana Host" in await shown.inner_text()
    await _clean(ivo, "a breakout room with the message")
    await ivo.screenshot(path=str(artifacts / "room-breakout.png"))
    panel = await host.get_by_test_id("breakouts-panel").inner_text()
    assert "Room 2" in panel and "null" not in panel and "choosing" not in panel, panel  # everyone chose
    await host.screenshot(path=str(artifacts / "room-breakout-panel.png"))

    # everyone back: the three see each other again
    await host.get_by_test_id("breakout-close").click()
    await host.get_by_test_id("breakout-open").wait_for()
    ids = [await wait_for(lambda page=page: _together(page, mid), timeout=15, what="back in the main meeting")
           for page in (host, ivo, jo)]
    await asyncio.gather(frames_keep_coming(host, ids[1]), frames_keep_coming(ivo, ids[2]),
                         frames_keep_coming(jo, ids[0]))
    assert await ivo.get_by_test_id("room-title").inner_text() == "Workshop"
    assert await ivo.get_by_test_id("breakout-banner").count() == 0
    admin.close()
    for page in (host, ivo, jo):
        await browsers.close_page(page)
