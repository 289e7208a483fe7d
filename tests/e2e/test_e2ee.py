"""End-to-end encryption in Chromium: three people in an end-to-end encrypted meeting (its owner
ticked it in the meeting form), through the real edge, which forwards frames it cannot read.

Erin (host, RTCRtpScriptTransform) and Finn (a guest whose browser only has the older
createEncodedStreams API) give the right passphrase and decode each other's video. Gus gives a
wrong one: he gets Erin's packets but decodes no frame, and his tile of her (and hers of him) says
it cannot decrypt. He leaves and comes back with the right passphrase — a late joiner, whose video
starts at a keyframe the edge asks Erin's browser for — and decodes her video. Erin's Record
button says why it records nothing. axe-core checks the passphrase step and the room."""

from __future__ import annotations

import pytest

from tests.e2e.axe import violations
from tests.e2e.stack import Stack
from tests.e2e.ui import frames, frames_keep_coming, inbound, joined, sign_in, tile, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PASSPHRASE = "correct horse battery staple"
#: Chromium without RTCRtpScriptTransform: the room falls back to createEncodedStreams.
OLDER_API = "delete window.RTCRtpScriptTransform;"


async def _enter(page, base: str, meeting_id: str, passphrase: str, name: str = "", *, go: bool = True) -> str:  # noqa: ANN001
    """Join from the join page (opened unless *go* is false) with *passphrase*; the participant id."""
    if go:
        await page.goto(f"{base}/m/{meeting_id}")
    if name:
        await page.get_by_test_id("guest-name").fill(name)
    await page.get_by_test_id("join-passphrase").fill(passphrase)
    await page.get_by_test_id("join-button").click()
    return await joined(page)


async def _video_size(page, participant_id: str) -> list[int]:  # noqa: ANN001
    return await tile(page, participant_id).locator("video").evaluate("v => [v.videoWidth, v.videoHeight]")


async def _e2ee(page) -> dict:  # noqa: ANN001
    return await page.evaluate("window.__cc.e2ee")


async def test_the_passphrase_decodes_a_wrong_one_does_not_and_late_joiners_get_keyframes(stack: Stack,  # noqa: ANN001
                                                                                        browsers) -> None:
    erin = stack.add_person("erin", "Erin Host", "host")
    a = await browsers.page("erin")
    await sign_in(a, stack.url, erin)
    await a.get_by_test_id("nav-new-meeting").click()                # the owner ticks it when creating
    await a.get_by_test_id("meeting-title-input").fill("Board (encrypted)")
    await a.get_by_test_id("meeting-guests").check()
    await a.get_by_test_id("meeting-e2ee").check()
    await a.get_by_test_id("meeting-save").click()
    await a.get_by_test_id("meeting-e2ee-badge").wait_for()
    meeting_id = await a.get_by_test_id("meeting-view").get_attribute("data-meeting-id")
    await a.goto(f"{stack.url}/m/{meeting_id}")
    assert await violations(a) == []                                   # the passphrase step
    erin_id = await _enter(a, stack.url, meeting_id, PASSPHRASE)

    b = await browsers.page("finn")
    await b.add_init_script(OLDER_API)
    finn_id = await _enter(b, stack.url, meeting_id, PASSPHRASE, name="Finn Guest")
    await frames_keep_coming(b, erin_id)
    await frames_keep_coming(a, finn_id)
    assert (await _e2ee(a))["method"] == "script" and (await _e2ee(b))["method"] == "streams"
    assert (await _video_size(b, erin_id))[1] > 0
    assert await wait_for(lambda: tile(b, erin_id).get_attribute("data-e2ee"), what="Finn decrypts Erin") == "ok"
    sent = [t for t in (await _e2ee(a))["transforms"] if t["operation"] == "encrypt"]
    assert {t["kind"] for t in sent} == {"audio", "video"} and all(t["frames"] > 0 for t in sent)
    for page in (a, b):
        await page.get_by_test_id("e2ee-badge").wait_for()

    # A wrong passphrase: the packets arrive, nothing decrypts, the tile says so (not a black frame).
    c = await browsers.page("gus")
    gus_id = await _enter(c, stack.url, meeting_id, "incorrect horse", name="Gus Guest")
    await tile(c, erin_id).get_by_test_id("tile-undecryptable").wait_for()
    assert await tile(c, erin_id).get_attribute("data-e2ee") == "failed"
    assert "wrong passphrase" in await tile(c, erin_id).get_by_test_id("tile-undecryptable").inner_text()

    async def erins_packets() -> int:
        return sum(s["packetsReceived"] for s in await inbound(c)
                   if s["participantId"] == erin_id and s["kind"] == "video")
    await wait_for(lambda: erins_packets(), what="Erin's video packets reaching Gus")
    received = await erins_packets()
    await wait_for(lambda: _more(erins_packets, received + 50), what="more of Erin's packets reaching Gus")
    assert await frames(c, erin_id) == 0 and not await tile(c, erin_id).locator("video").is_visible()
    await tile(a, gus_id).get_by_test_id("tile-undecryptable").wait_for()   # and his frames are noise to her
    assert await violations(c) == []                                        # the room with that state

    # Erin's Record button explains itself and asks nothing of the server.
    record = a.get_by_test_id("toggle-record")
    assert await record.get_attribute("aria-disabled") == "true"
    assert "end-to-end encrypted" in await record.get_attribute("title")
    await record.focus()                     # marked unavailable (aria-disabled), still reached and pressed
    await a.keyboard.press("Enter")
    await a.get_by_text("Recording is off: this meeting is end-to-end encrypted").first.wait_for()
    assert await a.get_by_test_id("recording").is_hidden()

    # Gus leaves and comes back with the right passphrase: a late joiner, decoding from a keyframe.
    await c.get_by_test_id("leave").click()
    await c.get_by_test_id("rejoin").click()
    assert await c.get_by_test_id("join-passphrase").input_value() == "incorrect horse"   # this tab remembers it
    gus_id = await _enter(c, stack.url, meeting_id, PASSPHRASE, name="Gus Guest", go=False)
    await frames_keep_coming(c, erin_id)
    assert (await _video_size(c, erin_id))[1] > 0
    assert await wait_for(lambda: tile(c, erin_id).get_attribute("data-e2ee"), what="Gus decrypts Erin") == "ok"
    await wait_for(lambda: _is(tile(a, gus_id).get_attribute("data-e2ee"), "ok"), what="Erin decrypts Gus again")
    await frames_keep_coming(a, gus_id)
    for page in (b, c):
        await browsers.close_page(page)


async def _more(count, floor: int) -> int:  # noqa: ANN001
    n = await count()
    return n if n > floor else 0


async def _is(value, expected: str) -> bool:  # noqa: ANN001
    return await value == expected
