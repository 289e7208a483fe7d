"""Accessibility in real Chromium: axe-core finds no serious or critical violation on any page of
the web app or in the room; the room works from the keyboard alone (documented shortcuts for the
microphone, camera, hand and chat, with a visible focus)."""

from __future__ import annotations

import pytest

from tests.e2e.axe import violations
from tests.e2e.stack import Stack
from tests.e2e.ui import joined, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def clean(page, where: str) -> None:  # noqa: ANN001
    found = await violations(page)
    assert not found, f"{where}: {found}"


async def test_no_page_has_a_serious_violation(stack: Stack, browsers) -> None:  # noqa: ANN001
    root = stack.people.get("ally") or stack.add_person("ally", "Ally Admin", "admin")
    page = await browsers.page("ally")
    await page.goto(f"{stack.url}/signin")
    await page.get_by_test_id("signin-username").wait_for()
    await clean(page, "sign-in")
    await page.goto(f"{stack.url}/register")
    await page.get_by_test_id("register-username").wait_for()
    await clean(page, "register")
    await sign_in(page, stack.url, root)
    await page.get_by_test_id("meetings-list").and_(page.locator("[aria-busy=false]")).wait_for()
    await clean(page, "meetings")
    await page.goto(f"{stack.url}/meetings/new")
    await page.get_by_test_id("meeting-title-input").wait_for()
    await clean(page, "new meeting")
    await page.get_by_test_id("meeting-title-input").fill("Accessible")
    await page.get_by_test_id("meeting-save").click()
    view = page.get_by_test_id("meeting-view")
    await view.wait_for()
    await clean(page, "meeting")
    meeting_id = await view.get_attribute("data-meeting-id")
    for tab in ("accounts", "edges", "recordings", "audit"):
        await page.goto(f"{stack.url}/admin/{tab}")
        await page.get_by_test_id(f"admin-{tab}").locator("table, .empty").first.wait_for()
        await clean(page, f"admin {tab}")
    await page.goto(f"{stack.url}/account")
    await page.get_by_test_id("password-form").wait_for()
    await clean(page, "account")
    await page.goto(f"{stack.url}/m/{meeting_id}")
    await wait_for(lambda: page.get_by_test_id("preview-video").evaluate("v => v.videoWidth > 0"), what="the preview")
    await clean(page, "join preview")
    await page.get_by_test_id("join-button").click()
    await joined(page)
    await clean(page, "room")
    await page.get_by_test_id("toggle-hand").click()
    await page.get_by_test_id("toggle-people").click()
    await page.get_by_test_id("hand-queue-entry").wait_for()
    await clean(page, "room with a raised hand and the people panel")
    await page.get_by_test_id("toggle-chat").click()
    await page.get_by_test_id("chat-panel").wait_for()
    await clean(page, "room with the chat panel")
    await page.get_by_test_id("open-reactions").click()
    await page.get_by_test_id("reactions").wait_for()
    await clean(page, "room with the reactions open")
    await page.get_by_test_id("toggle-breakouts").click()
    await page.get_by_test_id("breakout-setup").wait_for()
    await clean(page, "room with the breakout rooms panel")
    await page.emulate_media(color_scheme="dark")                # the pages' dark theme too
    for path, ready in ((f"/meetings/{meeting_id}", "meeting-view"), ("/meetings", "meetings-list"),
                        ("/admin/accounts", "new-account"), ("/account", "password-form"),
                        (f"/m/{meeting_id}", "preview")):
        await page.goto(stack.url + path)
        await page.get_by_test_id(ready).wait_for()
        await clean(page, f"{path}, dark")
    await page.emulate_media(color_scheme="light")
    await browsers.close_page(page)


async def test_the_room_from_the_keyboard_alone(stack: Stack, browsers) -> None:  # noqa: ANN001
    kim, lou = stack.add_person("kim", "Kim Keys", "host"), stack.add_person("lou", "Lou Listener")
    meeting_id = stack.create_meeting(kim, "Keys")
    pl = await browsers.page("lou")
    await sign_in(pl, stack.url, lou)
    await pl.goto(f"{stack.url}/m/{meeting_id}")
    await pl.get_by_test_id("join-button").click()
    await joined(pl)
    pk = await browsers.page("kim")
    await sign_in(pk, stack.url, kim)
    await pk.goto(f"{stack.url}/m/{meeting_id}")
    await pk.get_by_test_id("join-button").focus()
    await pk.keyboard.press("Enter")
    kim_id = await joined(pk)
    await pl.get_by_test_id("announcer").get_by_text("Kim Keys joined").wait_for(state="attached")
    seen = pl.locator(f"[data-testid=tile][data-participant-id='{kim_id}'][data-source=camera]")

    assert await pk.get_by_test_id("toggle-mic").get_attribute("aria-keyshortcuts") == "M"
    await pk.keyboard.press("m")                                  # microphone
    await seen.and_(pl.locator("[data-mic-muted=true]")).wait_for()
    await pk.keyboard.press("v")                                  # camera
    await seen.and_(pl.locator("[data-camera-off=true]")).wait_for()
    await pk.keyboard.press("h")                                  # hand
    await seen.and_(pl.locator("[data-hand=true]")).wait_for()
    await pl.get_by_test_id("announcer").get_by_text("Kim Keys raised a hand").wait_for(state="attached")
    await pk.keyboard.press("c")                                  # chat: its input has the focus
    await pk.get_by_test_id("chat-panel").wait_for()
    await wait_for(lambda: pk.evaluate("document.activeElement?.dataset.testid === 'chat-input'"), what="focus in the chat")
    await pk.keyboard.type("hello, no mouse")                    # letters typed here are not shortcuts
    await pk.keyboard.press("Enter")
    await pl.get_by_test_id("toggle-chat").click()
    await pl.get_by_test_id("chat-text").filter(has_text="hello, no mouse").wait_for()
    assert await pk.get_by_test_id("toggle-hand").get_attribute("data-state") == "on"

    # Tab reaches the controls, and the one with the focus shows it.
    await pk.get_by_test_id("toggle-mic").focus()
    await pk.keyboard.press("Tab")
    outline = await pk.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    await browsers.close_page(pk)
    await browsers.close_page(pl)
