"""People meet in real Chromium through the real stack: sign in and create a meeting in the web
app, join it, and see and hear each other through the edge — then every control of the room."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.e2e.stack import Stack
from tests.e2e.ui import (
    audio_keeps_coming,
    frames,
    frames_keep_coming,
    inbound,
    join,
    joined,
    open_panel,
    roster_entry,
    sign_in,
    tile,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Meeting:
    id: str
    alice: object
    bob: object
    alice_id: str
    bob_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(stack: Stack, browsers) -> Meeting:  # noqa: ANN001
    """Alice (a host) and Bob sign in through the web app; Alice creates the meeting there; both join."""
    alice = stack.add_person("alice", "Alice Host", "host")
    bob = stack.add_person("bob", "Bob Member")
    pa, pb = await browsers.page("alice"), await browsers.page("bob")
    await sign_in(pa, stack.url, alice)
    await pa.get_by_test_id("new-meeting").click()
    await pa.get_by_test_id("meeting-title-input").fill("Design review")
    await pa.get_by_test_id("meeting-guests").check()
    await pa.get_by_test_id("meeting-lobby").check()
    await pa.get_by_test_id("meeting-save").click()
    view = pa.get_by_test_id("meeting-view")
    await view.wait_for()
    meeting_id = await view.get_attribute("data-meeting-id")
    assert await pa.get_by_test_id("join-link").input_value() == f"{stack.url}/m/{meeting_id}"
    await sign_in(pb, stack.url, bob)
    await pa.get_by_test_id("meeting-join").click()
    await pa.get_by_test_id("join-button").click()
    await join(pb, stack.url, meeting_id)
    return Meeting(meeting_id, pa, pb, await joined(pa), await joined(pb))


async def test_two_people_see_and_hear_each_other_through_the_edge(meeting: Meeting, artifacts: Path) -> None:
    m = meeting
    await frames_keep_coming(m.alice, m.bob_id)
    await frames_keep_coming(m.bob, m.alice_id)
    await audio_keeps_coming(m.alice, m.bob_id)
    await audio_keeps_coming(m.bob, m.alice_id)
    # a grid with names: each page shows both tiles, its own marked as such
    assert await tile(m.alice, m.bob_id).get_by_test_id("tile-name").inner_text() == "Bob Member"
    assert await tile(m.alice, m.alice_id).get_by_test_id("tile-name").inner_text() == "Alice Host (you)"
    assert await tile(m.bob, m.alice_id).get_by_test_id("tile-name").inner_text() == "Alice Host"
    for page, who in ((m.alice, "alice"), (m.bob, "bob")):
        await page.screenshot(path=str(artifacts / f"room-two-people-{who}.png"))


async def test_the_camera_goes_out_as_simulcast_layers_and_the_other_side_decodes_one(meeting: Meeting) -> None:
    m = meeting

    async def encodings() -> dict[str, tuple[int, int]]:
        return {e["rid"]: (e["framesEncoded"], e["frameHeight"])
                for e in await m.alice.evaluate("window.__cc.outbound()")}

    async def both_layers() -> dict[str, tuple[int, int]] | None:
        now = await encodings()
        return now if set(now) == {"q", "f"} and all(frames > 0 for frames, _ in now.values()) else None
    first = await wait_for(both_layers, timeout=15, what="alice's camera encoded as layers q and f")
    # both layers keep being encoded
    later = await wait_for(lambda: _grown(encodings, first), timeout=15, what="both layers still encoded")
    assert later["q"][1] * 2 == later["f"][1], later  # half the lines, then the capture itself
    # bob decodes one of them
    await frames_keep_coming(m.bob, m.alice_id)
    heights = {s["frameHeight"] for s in await inbound(m.bob)
               if s["kind"] == "video" and s["participantId"] == m.alice_id and s["active"]}
    assert heights <= {later["q"][1], later["f"][1]} and heights, heights


async def _grown(read, first: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]] | None:  # noqa: ANN001
    now = await read()
    return now if all(now.get(rid, (0, 0))[0] > frames + 10 for rid, (frames, _) in first.items()) else None


async def test_a_tile_out_of_sight_is_not_sent_until_it_is_back(meeting: Meeting) -> None:
    m = meeting
    await frames_keep_coming(m.bob, m.alice_id)
    alice_tile = tile(m.bob, m.alice_id)
    track_id = await alice_tile.get_attribute("data-track-id")
    sent = await wait_for(lambda: m.bob.evaluate("window.__cc.view.sent"), what="a view sent")
    shown = {t["track_id"]: t for t in sent["tracks"]}
    assert track_id in shown and shown[track_id]["width"] > 0 and shown[track_id]["height"] > 0
    await alice_tile.evaluate("el => { el.style.transform = 'translateY(-100000px)'; }")
    try:
        await wait_for(lambda: m.bob.evaluate(f"(window.__cc.view.sent?.hidden || []).includes('{track_id}')"),
                       what="alice's camera reported hidden")
        last = {"n": -1, "same": 0}

        async def stopped() -> bool:  # the same count over five samples in a row (a second and more)
            n = await frames(m.bob, m.alice_id)
            last["same"] = last["same"] + 1 if n == last["n"] else 0
            last["n"] = n
            return last["same"] >= 5
        await wait_for(stopped, timeout=15, interval=0.25, what="no more frames of a hidden tile")
    finally:
        await alice_tile.evaluate("el => { el.style.transform = ''; }")
    await frames_keep_coming(m.bob, m.alice_id, timeout=15)


async def test_chat_arrives_on_the_other_side(meeting: Meeting, artifacts: Path) -> None:
    m = meeting
    await open_panel(m.alice, "chat")
    await m.alice.get_by_test_id("chat-input").fill("Hello Bob, can you see my slides?")
    await m.alice.get_by_test_id("chat-send").click()
    await m.bob.get_by_test_id("chat-unread").filter(has_text="1").wait_for()
    await open_panel(m.bob, "chat")
    message = m.bob.get_by_test_id("chat-message").last
    assert await message.get_by_test_id("chat-text").inner_text() == "Hello Bob, can you see my slides?"
    assert await message.get_by_test_id("chat-sender").inner_text() == "Alice Host"
    assert await m.bob.get_by_test_id("chat-unread").is_hidden()
    await m.bob.screenshot(path=str(artifacts / "room-two-people-chat.png"))
    for page in (m.alice, m.bob):
        await page.get_by_test_id("close-panel").click()


async def test_mute_is_shown_on_the_other_side(meeting: Meeting) -> None:
    m = meeting
    await m.bob.get_by_test_id("toggle-mic").click()
    assert await m.bob.get_by_test_id("toggle-mic").get_attribute("data-state") == "off"
    await tile(m.alice, m.bob_id).and_(m.alice.locator("[data-mic-muted=true]")).wait_for()
    assert await tile(m.alice, m.bob_id).get_by_test_id("tile-mic-muted").is_visible()
    assert await m.bob.evaluate("window.__cc.localTracks().microphone.enabled") is False
    await m.bob.get_by_test_id("toggle-mic").click()
    await tile(m.alice, m.bob_id).and_(m.alice.locator("[data-mic-muted=false]")).wait_for()


async def test_the_active_speaker_is_highlighted(meeting: Meeting) -> None:
    # Chromium's fake microphone beeps: the edge picks a speaker from the audio levels.
    for page in (meeting.alice, meeting.bob):
        await page.locator("[data-testid=tile][data-speaking=true]").first.wait_for(timeout=15_000)


async def test_a_shared_screen_appears_as_a_new_tile_on_the_other_side(meeting: Meeting) -> None:
    m = meeting
    await m.alice.get_by_test_id("toggle-screen").click()
    await tile(m.bob, m.alice_id, "screen").wait_for()
    await frames_keep_coming(m.bob, m.alice_id, "screen")
    await frames_keep_coming(m.bob, m.alice_id, "camera")  # the camera goes on beside it
    await m.alice.get_by_test_id("toggle-screen").click()
    await tile(m.bob, m.alice_id, "screen").wait_for(state="detached")
    assert await m.alice.get_by_test_id("toggle-screen").get_attribute("data-state") == "off"
    # sharing again works on the same connection
    await m.alice.get_by_test_id("toggle-screen").click()
    await tile(m.bob, m.alice_id, "screen").wait_for()
    await frames_keep_coming(m.bob, m.alice_id, "screen")
    await m.alice.get_by_test_id("toggle-screen").click()
    await tile(m.bob, m.alice_id, "screen").wait_for(state="detached")


async def test_camera_off_and_on(meeting: Meeting) -> None:
    m = meeting
    await m.bob.get_by_test_id("toggle-camera").click()
    await tile(m.alice, m.bob_id).and_(m.alice.locator("[data-camera-off=true]")).wait_for()
    local = await m.bob.evaluate("window.__cc.localTracks().camera")
    assert local["id"] == "" and local["senderTrackId"] == ""  # the camera is released, not just blanked
    await m.bob.get_by_test_id("toggle-camera").click()
    await tile(m.alice, m.bob_id).and_(m.alice.locator("[data-camera-off=false]")).wait_for()
    await frames_keep_coming(m.alice, m.bob_id)


async def test_choosing_another_microphone_and_camera_replaces_the_tracks(meeting: Meeting) -> None:
    m = meeting
    before = await m.bob.evaluate("window.__cc.localTracks()")
    await m.bob.get_by_test_id("open-devices").click()
    mics = m.bob.get_by_test_id("select-microphone")
    await mics.locator("option", has_text="Fake Audio Input 1").wait_for(state="attached")
    await mics.select_option(label="Fake Audio Input 1")
    after = await wait_for(lambda: _changed(m.bob, "microphone", before), what="microphone replaced")
    assert after["label"] == "Fake Audio Input 1" and after["senderTrackId"] == after["id"]
    cams = m.bob.get_by_test_id("select-camera")
    assert await cams.locator("option").count() == 1  # Chromium's fake camera
    await cams.select_option(index=0)
    cam = await wait_for(lambda: _changed(m.bob, "camera", before), what="camera replaced")
    assert cam["label"] == "fake_device_0" and cam["senderTrackId"] == cam["id"]
    await m.bob.get_by_test_id("open-devices").click()
    assert await m.bob.get_by_test_id("devices").is_hidden()
    await frames_keep_coming(m.alice, m.bob_id)
    await audio_keeps_coming(m.alice, m.bob_id)


async def _changed(page, source: str, before: dict) -> dict | None:  # noqa: ANN001
    now = (await page.evaluate("window.__cc.localTracks()"))[source]
    return now if now["id"] and now["id"] != before[source]["id"] and now["senderTrackId"] == now["id"] else None


async def test_a_dropped_socket_reconnects_and_resumes_the_same_place(meeting: Meeting) -> None:
    m = meeting
    await m.bob.evaluate("""() => {
        const banner = document.querySelector('[data-testid=reconnecting]');
        new MutationObserver(() => { if (!banner.hidden) window.__sawReconnecting = true; })
            .observe(banner, {attributes: true, attributeFilter: ['hidden']});
        window.__cc.dropSocket();
    }""")
    await wait_for(lambda: m.bob.evaluate("window.__cc.connection.reconnects === 1 && window.__cc.connection.state === 'connected'"),
                   what="resumed")
    conn = await m.bob.evaluate("window.__cc.connection")
    assert conn["history"][-3:] == ["connected", "reconnecting", "connected"], conn
    assert await m.bob.evaluate("window.__cc.participantId") == m.bob_id  # not a new participant
    assert await m.bob.evaluate("window.__sawReconnecting === true")  # the banner was shown meanwhile
    assert await m.bob.get_by_test_id("reconnecting").is_hidden()
    # the others never saw Bob leave; the resumed socket carries signaling again
    assert await roster_entry(m.alice, m.bob_id).count() == 1
    await open_panel(m.bob, "chat")
    await m.bob.get_by_test_id("chat-input").fill("back again")
    await m.bob.get_by_test_id("chat-send").click()
    await m.alice.get_by_test_id("chat-message").filter(has_text="back again").wait_for(state="attached")
    await m.bob.get_by_test_id("close-panel").click()
    await frames_keep_coming(m.alice, m.bob_id)


async def test_a_resume_that_asks_for_new_media_connections_gets_media_again(meeting: Meeting) -> None:
    """What the room does when a peer connection failed: resume with restart_media, new PCs, publish again."""
    m = meeting
    await m.bob.evaluate("window.__oldPcs = [window.__cc.publishPc, window.__cc.subscribePc];"
                         "window.__cc.room.mediaBroken = true; window.__cc.dropSocket()")
    await wait_for(lambda: m.bob.evaluate("window.__cc.connection.reconnects === 2 && window.__cc.connection.state === 'connected'"),
                   what="resumed again")
    await wait_for(lambda: m.bob.evaluate("window.__cc.publishPc !== window.__oldPcs[0] && window.__cc.subscribePc !== null"
                                          " && window.__cc.subscribePc !== window.__oldPcs[1]"), what="new peer connections")
    assert await m.bob.evaluate("window.__oldPcs.every((pc) => pc.connectionState === 'closed')")
    assert await m.bob.evaluate("window.__cc.participantId") == m.bob_id
    await frames_keep_coming(m.bob, m.alice_id)
    await frames_keep_coming(m.alice, m.bob_id)
    await audio_keeps_coming(m.alice, m.bob_id)


async def test_the_connection_quality_hint_shows_measurements(meeting: Meeting) -> None:
    quality = meeting.bob.get_by_test_id("quality")
    await meeting.bob.locator("[data-testid=quality]:not([data-level=unknown]):not([data-rtt=''])"
                              ":not([data-loss=''])").wait_for()
    assert await quality.get_attribute("data-level") in ("good", "fair", "poor")
    assert float(await quality.get_attribute("data-rtt")) >= 0
    assert float(await quality.get_attribute("data-loss")) >= 0
    assert "round trip" in await quality.get_attribute("title")


async def test_a_host_makes_someone_a_moderator(meeting: Meeting) -> None:
    m = meeting
    assert await m.bob.get_by_test_id("end-meeting").is_hidden()
    await open_panel(m.bob, "people")  # no moderator controls for a member
    await roster_entry(m.bob, m.alice_id).wait_for()
    assert await m.bob.get_by_test_id("roster-kick").count() == 0
    assert await m.bob.get_by_test_id("roster-mute").count() == 0
    await m.bob.get_by_test_id("close-panel").click()
    await open_panel(m.alice, "people")
    await roster_entry(m.alice, m.bob_id).get_by_test_id("roster-promote").click()
    await m.bob.get_by_test_id("end-meeting").wait_for()
    await roster_entry(m.alice, m.bob_id).get_by_test_id("roster-moderator").wait_for()
    await m.alice.get_by_test_id("close-panel").click()


async def test_a_late_joiner_decodes_video_within_a_second_and_a_host_removes_them(
        meeting: Meeting, stack: Stack, browsers) -> None:  # noqa: ANN001
    m = meeting
    carol = stack.add_person("carol", "Carol Late")
    pc = await browsers.page("carol")
    await sign_in(pc, stack.url, carol)
    clicked = await join(pc, stack.url, m.id)
    await wait_for(lambda: _all_decoding(pc, [m.alice_id, m.bob_id]), timeout=10, interval=0.02,
                   what="video from both others")
    elapsed = time.monotonic() - clicked
    marks = await pc.evaluate("window.__cc.marks")
    steps = ", ".join(f"{k} {(v - marks['clicked']) / 1000:.2f}" for k, v in sorted(marks.items(), key=lambda kv: kv[1]))
    print(f"\nlate joiner: decoded frames from both others {elapsed:.2f} s after clicking Join ({steps})")
    assert elapsed < 3.0, f"late joiner waited {elapsed:.2f} s for video"
    carol_id = await joined(pc)
    await tile(m.alice, carol_id).wait_for()
    await frames_keep_coming(m.bob, carol_id)
    # a moderator removes Carol: her page says so and her tile leaves the others' grids
    await open_panel(m.alice, "people")
    await roster_entry(m.alice, carol_id).get_by_test_id("roster-kick").click()
    ended = pc.get_by_test_id("room-ended")
    await ended.wait_for()
    assert await ended.get_attribute("data-reason") == "kicked"
    for page in (m.alice, m.bob):
        await tile(page, carol_id).wait_for(state="detached")
    await m.alice.get_by_test_id("close-panel").click()
    await browsers.close_page(pc)


async def _all_decoding(page, ids: list[str]) -> bool:  # noqa: ANN001
    return all([await frames(page, pid) > 0 for pid in ids])


async def test_a_moderator_mutes_someone(meeting: Meeting) -> None:
    m = meeting
    await open_panel(m.bob, "people")  # Bob was made a moderator
    await roster_entry(m.bob, m.alice_id).get_by_test_id("roster-mute").click()
    await m.alice.get_by_test_id("toggle-mic").and_(m.alice.locator("[data-state=off]")).wait_for()
    assert await m.alice.evaluate("window.__cc.localTracks().microphone.enabled") is False
    await tile(m.bob, m.alice_id).and_(m.bob.locator("[data-mic-muted=true]")).wait_for()
    await m.bob.get_by_test_id("close-panel").click()
    await m.alice.get_by_test_id("toggle-mic").click()  # only she can unmute herself
    await tile(m.bob, m.alice_id).and_(m.bob.locator("[data-mic-muted=false]")).wait_for()


async def count_is(locator, n: int) -> bool:  # noqa: ANN001
    return await locator.count() == n


async def test_raised_hands_queue_up_a_moderator_lowers_one_and_reactions_show(meeting: Meeting,
                                                                               artifacts: Path) -> None:
    m = meeting
    await m.alice.get_by_test_id("toggle-hand").click()
    await m.alice.get_by_test_id("toggle-hand").and_(m.alice.locator("[data-state=on]")).wait_for()
    await tile(m.bob, m.alice_id).and_(m.bob.locator("[data-hand=true]")).wait_for()
    await m.bob.get_by_test_id("toggle-hand").click()
    await m.bob.get_by_test_id("announcer").get_by_text("Alice Host raised a hand").wait_for(state="attached")
    await open_panel(m.bob, "people")                    # Bob was made a moderator: he takes the queue
    queue = m.bob.get_by_test_id("hand-queue-entry")
    await wait_for(lambda: count_is(queue, 2), what="two raised hands in the queue")
    assert await queue.get_by_test_id("hand-queue-name").all_inner_texts() == ["Alice Host", "Bob Member (you)"]
    assert await roster_entry(m.bob, m.alice_id).get_by_test_id("roster-hand").inner_text() == "1"
    await m.alice.get_by_test_id("open-reactions").click()
    await m.alice.get_by_test_id("react-party").click()
    await tile(m.bob, m.alice_id).get_by_test_id("tile-reaction").and_(m.bob.locator("[data-reaction=party]")).wait_for()
    await m.bob.wait_for_function("() => getComputedStyle(document.querySelector('[data-reaction=party]')).opacity === '1'")
    await m.bob.screenshot(path=str(artifacts / "room-hands.png"))   # the README's picture of the room
    await queue.first.get_by_test_id("hand-queue-lower").click()
    await m.alice.get_by_test_id("toggle-hand").and_(m.alice.locator("[data-state=off]")).wait_for()
    await m.alice.get_by_test_id("toast").get_by_text("A moderator lowered your hand").wait_for()
    await wait_for(lambda: count_is(queue, 1), what="one raised hand left")
    await m.bob.get_by_test_id("toggle-hand").click()    # his own, from the toolbar
    await m.bob.get_by_test_id("hand-queue").wait_for(state="hidden")
    await tile(m.alice, m.bob_id).and_(m.alice.locator("[data-hand=false]")).wait_for()
    await m.bob.get_by_test_id("close-panel").click()

    await m.alice.get_by_test_id("open-reactions").click()
    await m.alice.get_by_test_id("react-clap").click()              # (a reaction a while after the last)
    shown = tile(m.bob, m.alice_id).get_by_test_id("tile-reaction")
    await shown.and_(m.bob.locator("[data-reaction=clap]")).wait_for()
    assert await shown.inner_text() == "👏"
    await tile(m.alice, m.alice_id).get_by_test_id("tile-reaction").wait_for()   # her own tile too


async def test_a_guest_waits_in_the_lobby_until_a_host_admits_them(meeting: Meeting, stack: Stack, browsers) -> None:  # noqa: ANN001
    m = meeting
    guest = await browsers.page("guest")
    await join(guest, stack.url, m.id, name="Gus Guest")
    await guest.get_by_test_id("lobby-waiting").wait_for()
    await m.alice.get_by_test_id("lobby-count").filter(has_text="1").wait_for()
    await open_panel(m.alice, "people")
    entry = m.alice.get_by_test_id("lobby-entry")
    assert await entry.get_by_test_id("lobby-name").inner_text() == "Gus Guest"
    # nothing reaches the guest while waiting
    assert await guest.evaluate("window.__cc.subscribePc") is None
    await entry.get_by_test_id("lobby-admit").click()
    await guest.get_by_test_id("lobby-waiting").wait_for(state="hidden")
    guest_id = await joined(guest)
    await frames_keep_coming(guest, m.alice_id)
    await frames_keep_coming(guest, m.bob_id)
    await frames_keep_coming(m.alice, guest_id)
    # a second guest is turned away
    other = await browsers.page("guest-2")
    await join(other, stack.url, m.id, name="Uninvited")
    await other.get_by_test_id("lobby-waiting").wait_for()
    await m.alice.get_by_test_id("lobby-entry").filter(has_text="Uninvited").get_by_test_id("lobby-deny").click()
    await other.locator("[data-testid=room-ended][data-reason=denied]").wait_for()
    await m.alice.get_by_test_id("close-panel").click()
    await browsers.close_page(other)
    await browsers.close_page(guest)


PHONE = {"width": 375, "height": 812}


async def test_at_phone_width_every_control_is_reachable(meeting: Meeting, stack: Stack, browsers,
                                                         artifacts: Path) -> None:  # noqa: ANN001
    m = meeting
    dave = stack.add_person("dave", "Dave Phone")
    phone = await browsers.page("phone", viewport=PHONE)
    await sign_in(phone, stack.url, dave)
    await join(phone, stack.url, m.id)
    await joined(phone)
    await frames_keep_coming(phone, m.alice_id)
    controls = ["toggle-mic", "toggle-camera", "toggle-screen", "open-devices", "toggle-chat", "toggle-people", "leave"]
    for testid in controls:
        box = await phone.get_by_test_id(testid).bounding_box()
        assert box is not None, testid
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (testid, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (testid, box)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways ({width} px)"
    grid = await phone.get_by_test_id("grid").bounding_box()
    for t in await phone.get_by_test_id("tile").all():
        box = await t.bounding_box()
        assert box["x"] >= grid["x"] - 1 and box["x"] + box["width"] <= grid["x"] + grid["width"] + 1
    await phone.screenshot(path=str(artifacts / "room-phone.png"))
    await phone.get_by_test_id("toggle-chat").click()
    panel = await phone.get_by_test_id("chat-panel").bounding_box()
    assert panel["width"] <= PHONE["width"]
    await phone.get_by_test_id("chat-input").fill("from my phone")
    await phone.get_by_test_id("chat-send").click()
    await m.alice.get_by_test_id("chat-message").filter(has_text="from my phone").wait_for(state="attached")
    await phone.get_by_test_id("close-panel").click()
    meeting.phone = phone  # type: ignore[attr-defined]


async def test_end_for_all_ends_every_page(meeting: Meeting, stack: Stack) -> None:
    m = meeting
    pages = [m.alice, m.bob, getattr(m, "phone", None)]
    await m.alice.get_by_test_id("end-meeting").click()
    await m.alice.get_by_test_id("end-confirm").click()
    for page in filter(None, pages):
        await page.locator("[data-testid=room-ended][data-reason=ended]").wait_for()
        assert await page.get_by_test_id("rejoin").count() == 0
    admin = stack.admin()
    try:
        await wait_for(_ended(admin, m.id), what="the meeting ended in the control plane")
    finally:
        admin.close()
    # its host can make it joinable again from the meeting's page
    await m.alice.get_by_test_id("back-to-meetings").click()
    await m.alice.goto(f"{stack.url}/meetings/{m.id}")
    assert await m.alice.get_by_test_id("meeting-state").inner_text() == "Ended"
    assert await m.alice.get_by_test_id("meeting-join").count() == 0
    await m.alice.get_by_test_id("meeting-restart").click()
    await m.alice.get_by_test_id("meeting-state").filter(has_text="Scheduled").wait_for()
    await m.alice.get_by_test_id("meeting-join").wait_for()


def _ended(client: httpx.Client, meeting_id: str):  # noqa: ANN202
    async def check() -> bool:
        return client.get(f"/api/v1/meetings/{meeting_id}").json()["state"] == "ended"
    return check

