"""Before joining, in real Chromium with its fake camera and microphone: the preview shows the
camera's picture and the microphone's level, lists the devices, and joining muted and without the
camera is what the others see; the choice is remembered for the next visit."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack
from tests.e2e.ui import joined, sign_in, tile, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_the_preview_then_joining_muted_and_without_the_camera(stack: Stack, browsers) -> None:  # noqa: ANN001
    pia, quinn = stack.add_person("pia", "Pia Preview", "host"), stack.add_person("quinn", "Quinn Other")
    meeting_id = stack.create_meeting(pia, "Preview")
    pq = await browsers.page("quinn")
    await sign_in(pq, stack.url, quinn)
    await pq.goto(f"{stack.url}/m/{meeting_id}")
    await pq.get_by_test_id("join-button").click()
    await joined(pq)

    pp = await browsers.page("pia")
    await sign_in(pp, stack.url, pia)
    await pp.goto(f"{stack.url}/m/{meeting_id}")
    preview = pp.get_by_test_id("preview-video")
    await wait_for(lambda: preview.evaluate("v => v.videoWidth > 0 && !v.paused"), what="the camera's picture")
    level = pp.get_by_test_id("mic-level")
    await wait_for(lambda: level.evaluate("m => Number(m.dataset.level) > 0"), what="the microphone's level moving")
    assert await pp.get_by_test_id("preview-camera").locator("option").count() >= 1
    assert await pp.get_by_test_id("preview-microphone").locator("option").count() >= 1
    await pp.get_by_test_id("preview-no-camera").check()
    await pp.get_by_test_id("preview-camera-off").wait_for()
    await pp.get_by_test_id("preview-join-muted").check()
    await pp.get_by_test_id("join-button").click()
    pia_id = await joined(pp)
    await pp.get_by_test_id("toggle-mic").and_(pp.locator("[data-state=off]")).wait_for()
    await pp.get_by_test_id("toggle-camera").and_(pp.locator("[data-state=off]")).wait_for()
    seen = tile(pq, pia_id)
    await seen.and_(pq.locator("[data-mic-muted=true][data-camera-off=true]")).wait_for()
    await pp.get_by_test_id("toggle-mic").click()                     # she unmutes: her microphone goes out
    await seen.and_(pq.locator("[data-mic-muted=false]")).wait_for()

    await pp.get_by_test_id("leave").click()
    await pp.goto(f"{stack.url}/m/{meeting_id}")                     # remembered in this browser
    await pp.get_by_test_id("preview-camera-off").wait_for()
    assert await pp.get_by_test_id("preview-join-muted").is_checked()
    assert await pp.get_by_test_id("preview-no-camera").is_checked()
    await pp.get_by_test_id("preview-no-camera").uncheck()
    await wait_for(lambda: preview.evaluate("v => v.videoWidth > 0"), what="the camera back in the preview")
    await browsers.close_page(pp)
    await browsers.close_page(pq)
