"""Languages in real Chromium: a browser whose language is German gets the web app in German (the
sign-in page, the meetings list); the header's switch changes it to English, and the choice
survives a reload."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack
from tests.e2e.ui import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def lang(page) -> str:  # noqa: ANN001
    return await page.evaluate("document.documentElement.lang")


async def test_german_from_the_browser_then_english_from_the_switch(stack: Stack, browsers) -> None:  # noqa: ANN001
    gerda = stack.add_person("gerda", "Gerda Deutsch", "host")
    stack.create_meeting(gerda, "Wochenbesprechung")
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
    await browsers.close_page(page)
