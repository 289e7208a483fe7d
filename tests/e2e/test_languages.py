"""Languages in real Chromium: a browser whose language is German gets the web app in German (the
sign-in page, the meetings list); the header's switch changes it to English, and the choice
survives a reload; switched back to German, the join page and the room are in German."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack
from tests.e2e.ui import joined, open_panel, sign_in, tile

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def lang(page) -> str:  # noqa: ANN001
    return await page.evaluate("document.documentElement.lang")


async def test_german_from_the_browser_then_english_from_the_switch(stack: Stack, browsers) -> None:  # noqa: ANN001
    gerda = stack.add_person("gerda", "Gerda Deutsch", "host")
    meeting_id = stack.create_meeting(gerda, "Wochenbesprechung")
    page = await browsers.page("gerda", locale="de-DE")

    await page.goto(f"{stack.url}/signin")
    await page.get_by_role("heading", name="Anmelden").wait_for()
    assert await lang(page) == "de"
    assert await page.get_by_test_id("signin-submit").inner_text() == "Anmelden"
    assert await page.get_by_label("Passwort").count() == 1
    assert await page.get_by_test_id("language-switch").input_value() == "de"
    assert await page.title() == "Anmelden · Curious Connect"

    await sign_in(page, stack.url, gerda)
    await page.get_by_test_id("scope-upcoming").filter(has_text="Anstehend").wait_for()
    assert await page.get_by_test_id("nav-new-meeting").inner_text() == "Neues Meeting"
    row = page.get_by_test_id("meeting-row").filter(has_text="Wochenbesprechung")
    assert await row.get_by_test_id("meeting-join").inner_text() == "Teilnehmen"
    assert await row.get_by_test_id("meeting-copy-link").inner_text() == "Link kopieren"
    assert await page.get_by_test_id("sign-out").inner_text() == "Abmelden"

    await page.get_by_test_id("language-switch").select_option("en")      # the page is drawn again in English
    await page.get_by_test_id("scope-upcoming").filter(has_text="Upcoming").wait_for()
    assert await lang(page) == "en"
    assert await row.get_by_test_id("meeting-join").inner_text() == "Join"
    await page.reload()                                                  # remembered in this browser
    await page.get_by_test_id("scope-upcoming").filter(has_text="Upcoming").wait_for()
    assert await lang(page) == "en"
    assert await page.get_by_test_id("language-switch").input_value() == "en"
    assert await page.get_by_test_id("sign-out").inner_text() == "Sign out"

    await page.get_by_test_id("language-switch").select_option("de")      # back to German, then into the room
    await page.get_by_test_id("scope-upcoming").filter(has_text="Anstehend").wait_for()
    await page.goto(f"{stack.url}/m/{meeting_id}")
    join = page.get_by_test_id("join-button")
    await join.filter(has_text="Jetzt teilnehmen").wait_for()
    await page.get_by_text("Mit stummgeschaltetem Mikrofon teilnehmen").wait_for()
    await join.click()
    me = await joined(page)
    assert await lang(page) == "de"
    mic = page.get_by_test_id("toggle-mic")
    await page.locator("[data-testid=toggle-mic][data-state=on]").wait_for()  # the microphone is published
    assert await mic.inner_text() == "Stummschalten"
    assert await mic.get_attribute("title") == "Stummschalten (M)"
    assert await page.get_by_role("toolbar").get_attribute("aria-label") == "Meeting-Steuerung"
    assert await page.get_by_test_id("conn-state").inner_text() == "Verbunden"
    assert await tile(page, me).get_by_test_id("tile-name").inner_text() == "Gerda Deutsch (Sie)"
    await mic.click()
    await mic.filter(has_text="Stummschaltung aufheben").wait_for()
    await open_panel(page, "chat")
    assert await page.get_by_test_id("chat-input").get_attribute("placeholder") == "Nachricht an alle"
    await page.get_by_test_id("leave").click()
    await page.get_by_test_id("room-ended-title").filter(has_text="Sie haben das Meeting verlassen").wait_for()
    await browsers.close_page(page)
