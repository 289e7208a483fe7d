"""Chat in the room among three people: to everyone, and privately to one person — which only
that person and the sender see, marked as private."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.stack import Stack
from tests.e2e.ui import join, joined, open_panel, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Three:
    pages: list  # Hana (host), Ivo, Jo
    ids: list[str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def three(stack: Stack, browsers) -> Three:  # noqa: ANN001
    people = [stack.add_person("hana", "Hana Host", "host"), stack.add_person("ivo", "Ivo Member"),
              stack.add_person("jo", "Jo Member")]
    meeting_id = stack.create_meeting(people[0], "Whispers")
    pages, ids = [], []
    for person in people:
        page = await browsers.page(person.username)
        await sign_in(page, stack.url, person)
        await join(page, stack.url, meeting_id)
        pages.append(page)
        ids.append(await joined(page))
    for page in pages:  # everyone knows everyone
        await wait_for(lambda page=page: page.evaluate("window.__cc.room.state.participants.size === 3"),
                       what="three people in the roster")
        await open_panel(page, "chat")
    return Three(pages, ids)


async def _say(page, text: str, to: str = "") -> None:  # noqa: ANN001
    await page.get_by_test_id("chat-to").select_option(to)
    await page.get_by_test_id("chat-input").fill(text)
    await page.get_by_test_id("chat-send").click()
    await page.get_by_test_id("chat-message").filter(has_text=text).wait_for()


async def _texts(page) -> list[str]:  # noqa: ANN001
    return await page.get_by_test_id("chat-text").all_inner_texts()


async def test_the_recipient_list_names_everyone_else(three: Three) -> None:
    hana = three.pages[0]
    options = hana.get_by_test_id("chat-to").locator("option")
    assert await options.all_inner_texts() == ["Everyone", "Ivo Member", "Jo Member"]
    assert [await o.get_attribute("value") for o in await options.all()] == ["", three.ids[1], three.ids[2]]
    assert await hana.get_by_test_id("chat-input").get_attribute("placeholder") == "Message everyone"
    await hana.get_by_test_id("chat-to").select_option(three.ids[2])
    assert await hana.get_by_test_id("chat-input").get_attribute("placeholder") == "Message Jo Member privately"


async def test_a_private_message_reaches_only_its_recipient(three: Three, artifacts: Path) -> None:
    hana, ivo, jo = three.pages
    await _say(hana, "Jo, can you take the notes today?", to=three.ids[2])
    # Jo gets it, marked as private to Jo
    got = jo.get_by_test_id("chat-message").filter(has_text="Jo, can you take the notes today?")
    await got.wait_for()
    assert await got.get_by_test_id("chat-private").inner_text() == "private to you"
    assert await got.get_by_test_id("chat-sender").inner_text() == "Hana Host"
    assert await got.get_attribute("data-to") == three.ids[2]
    # Hana's own copy says whom it went to
    mine = hana.get_by_test_id("chat-message").filter(has_text="Jo, can you take the notes today?")
    assert await mine.get_by_test_id("chat-private").inner_text() == "private to Jo Member"
    # then a message to everyone: once Ivo has it, Ivo would have had the private one before it
    await _say(hana, "Welcome, everyone", to="")
    for page in (ivo, jo):
        await page.get_by_test_id("chat-message").filter(has_text="Welcome, everyone").wait_for()
    assert await _texts(ivo) == ["Welcome, everyone"]
    assert await _texts(jo) == ["Jo, can you take the notes today?", "Welcome, everyone"]
    public = ivo.get_by_test_id("chat-message").filter(has_text="Welcome, everyone")
    assert await public.get_by_test_id("chat-private").count() == 0
    await jo.screenshot(path=str(artifacts / "room-private-chat.png"))


async def test_a_private_answer_goes_back_to_the_sender_only(three: Three) -> None:
    hana, ivo, jo = three.pages
    await _say(jo, "Sure, I will", to=three.ids[0])
    await hana.get_by_test_id("chat-message").filter(has_text="Sure, I will").wait_for()
    await _say(jo, "Hello Ivo and Hana", to="")
    await ivo.get_by_test_id("chat-message").filter(has_text="Hello Ivo and Hana").wait_for()
    assert "Sure, I will" not in await _texts(ivo)
    assert await jo.get_by_test_id("chat-message").filter(has_text="Sure, I will").get_by_test_id(
        "chat-private").inner_text() == "private to Hana Host"


async def test_when_the_recipient_leaves_the_choice_falls_back_to_everyone(three: Three, browsers) -> None:  # noqa: ANN001
    hana, ivo, _jo = three.pages
    await hana.get_by_test_id("chat-to").select_option(three.ids[1])
    await ivo.get_by_test_id("leave").click()
    await wait_for(lambda: hana.evaluate("(id) => !window.__cc.room.state.participants.has(id)", three.ids[1]),
                   what="Ivo gone from Hana's roster")
    assert await hana.get_by_test_id("chat-to").input_value() == ""
    options = await hana.get_by_test_id("chat-to").locator("option").all_inner_texts()
    assert options == ["Everyone", "Jo Member"]
    assert await hana.get_by_test_id("chat-input").get_attribute("placeholder") == "Message everyone"
    await browsers.close_page(ivo)
