"""The web app's pages in real Chromium: sign-in (local, registration, OpenID Connect), creating,
scheduling, listing, editing and deleting meetings, and the join page's questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.stack import OIDC_ID, Stack
from tests.e2e.ui import join, joined, sign_in, wait_for
from tests.support.util import require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def person(stack: Stack, username: str, display_name: str, role: str = "member"):  # noqa: ANN201
    return stack.people.get(username) or stack.add_person(username, display_name, role)


async def test_sign_in_says_what_was_wrong_then_signs_in(stack: Stack, browsers) -> None:  # noqa: ANN001
    hana = person(stack, "hana", "Hana Host", "host")
    page = await browsers.page("hana")
    await page.goto(f"{stack.url}/meetings")
    await page.wait_for_url("**/signin?next=%2Fmeetings")  # signed out: sent to sign in first
    await page.get_by_test_id("signin-username").fill("hana")
    await page.get_by_test_id("signin-password").fill("not her password")
    await page.get_by_test_id("signin-submit").click()
    await page.get_by_test_id("form-error").filter(has_text="wrong user name or password").wait_for()
    await page.get_by_test_id("signin-password").fill(hana.password)
    await page.get_by_test_id("signin-submit").click()
    await page.wait_for_url("**/meetings")
    assert await page.get_by_test_id("account-name").inner_text() == "Hana Host"
    await page.get_by_test_id("sign-out").click()
    await page.wait_for_url("**/signin")
    assert (await page.context.request.get(f"{stack.url}/api/v1/auth/me")).status == 401


async def test_register_shows_errors_next_to_the_fields_and_signs_in(stack: Stack, browsers) -> None:  # noqa: ANN001
    person(stack, "taken", "Taken Name")
    page = await browsers.page("newcomer")
    await page.goto(f"{stack.url}/signin")
    await page.get_by_test_id("register-link").click()
    await page.get_by_test_id("register-username").fill("taken")
    await page.get_by_test_id("register-password").fill("short")
    await page.get_by_test_id("register-submit").click()
    error = page.get_by_test_id("error-password")
    await error.filter(has_text="length >= 10").wait_for()
    assert await page.get_by_test_id("register-password").get_attribute("aria-invalid") == "true"
    await page.get_by_test_id("register-password").fill("a long enough password")
    await page.get_by_test_id("register-submit").click()
    await page.get_by_test_id("error-username").filter(has_text="already taken").wait_for()
    assert await error.inner_text() == ""
    await page.get_by_test_id("register-username").fill("nina")
    await page.get_by_test_id("register-display-name").fill("Nina New")
    await page.get_by_test_id("register-submit").click()
    await page.wait_for_url("**/meetings")
    assert await page.get_by_test_id("account-name").inner_text() == "Nina New"
    # a member sees no way to create meetings, and the page says why
    assert await page.get_by_test_id("new-meeting").count() == 0
    await page.goto(f"{stack.url}/meetings/new")
    await page.get_by_test_id("problem").filter(has_text="Only hosts and admins may create meetings").wait_for()


async def test_a_directory_account_signs_in_with_the_same_form(stack: Stack, browsers) -> None:  # noqa: ANN001
    require(stack.ldap is not None, "slapd and ldap-utils (apt-get install slapd ldap-utils)")
    page = await browsers.page("lena")
    await page.goto(f"{stack.url}/signin")
    await page.get_by_text("User name (this server or the directory)").wait_for()
    await page.get_by_test_id("signin-username").fill("lena")
    await page.get_by_test_id("signin-password").fill("lena-directory-pw")
    await page.get_by_test_id("signin-submit").click()
    await page.wait_for_url("**/meetings")
    assert await page.get_by_test_id("account-name").inner_text() == "Lena Directory"


async def test_sign_in_with_an_openid_connect_provider(stack: Stack, browsers) -> None:  # noqa: ANN001
    require(stack.oidc is not None, "node and tests/js/node_modules (npm ci in tests/js) for the OIDC provider")
    page = await browsers.page("olga")
    # the provider's own login page asks for web fonts; there is no internet here
    await page.route("https://fonts.googleapis.com/**", lambda route: route.abort())
    await page.goto(f"{stack.url}/signin?next=/meetings%3Fscope%3Dmine")
    await page.get_by_test_id(f"oidc-{OIDC_ID}").filter(has_text="Sign in with Test SSO").click()
    await page.wait_for_url(f"{stack.oidc.issuer}/**")
    await page.locator("input[name=login]").fill("olga")
    await page.locator("input[name=password]").fill("any password")
    await page.locator("button[type=submit]").click()
    await page.locator("button[type=submit]").filter(has_text="Continue").click()  # consent
    await page.wait_for_url(f"{stack.url}/meetings?scope=mine")
    assert await page.get_by_test_id("account-name").inner_text() == "Olga Oidc"


async def test_a_host_schedules_a_weekly_series_and_downloads_its_calendar_file(
        stack: Stack, browsers, tmp_path: Path) -> None:  # noqa: ANN001
    host = person(stack, "hugo", "Hugo Host", "host")
    page = await browsers.page("hugo")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
    await sign_in(page, stack.url, host)
    await page.get_by_test_id("nav-new-meeting").click()
    await page.get_by_test_id("meeting-title-input").fill("Team stand-up")
    await page.get_by_test_id("meeting-scheduled").check()
    await page.get_by_test_id("meeting-start").fill("2030-03-04T10:00")
    await page.get_by_test_id("meeting-end").fill("2030-03-04T09:00")
    await page.get_by_test_id("meeting-time-zone").fill("Mars/Olympus_Mons")
    await page.get_by_test_id("meeting-save").click()
    await page.get_by_test_id("error-schedule.time_zone").filter(has_text="unknown time zone").wait_for()
    assert await page.get_by_test_id("meeting-time-zone").get_attribute("aria-invalid") == "true"
    await page.get_by_test_id("meeting-time-zone").fill("Europe/Berlin")
    await page.get_by_test_id("meeting-save").click()
    await page.get_by_test_id("error-schedule.end").filter(has_text="must be after the start").wait_for()
    assert await page.get_by_test_id("error-schedule.time_zone").inner_text() == ""
    await page.get_by_test_id("meeting-end").fill("2030-03-04T10:30")
    await page.get_by_test_id("meeting-repeat").select_option("weekly")
    await page.get_by_test_id("meeting-weekday-MO").check()
    await page.get_by_test_id("meeting-weekday-WE").check()
    await page.get_by_test_id("meeting-repeat-ends").select_option("count")
    await page.get_by_test_id("meeting-count").fill("6")
    await page.get_by_test_id("meeting-max").fill("12")
    await page.get_by_test_id("meeting-publish-policy").select_option("hosts")
    await page.get_by_test_id("meeting-save").click()
    view = page.get_by_test_id("meeting-view")
    await view.wait_for()
    meeting_id = await view.get_attribute("data-meeting-id")
    assert await page.get_by_test_id("meeting-repeats").inner_text() == "Every week on Mon, Wed, 6 times"
    assert "Europe/Berlin" in await page.get_by_test_id("meeting-when").inner_text()
    assert await page.get_by_test_id("meeting-occurrences").locator("li").count() == 5
    assert "Only hosts publish" in await view.inner_text()
    async with page.expect_download() as download:
        await page.get_by_test_id("meeting-ics").click()
    ics = Path(await (await download.value).path()).read_text()
    assert "BEGIN:VCALENDAR" in ics and "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6" in ics and "Team stand-up" in ics
    await page.get_by_test_id("meeting-copy-link").click()
    await page.locator("[data-testid=meeting-copy-link][data-copied=true]").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == f"{stack.url}/m/{meeting_id}"
    # it is listed as upcoming and among the host's meetings
    for scope in ("upcoming", "mine"):
        await page.goto(f"{stack.url}/meetings?scope={scope}")
        row = page.locator(f"[data-testid=meeting-row][data-meeting-id='{meeting_id}']")
        await row.wait_for()
        assert "Team stand-up" in await row.inner_text()


async def test_a_password_set_in_edit_is_asked_on_the_join_page(stack: Stack, browsers) -> None:  # noqa: ANN001
    host = person(stack, "hugo", "Hugo Host", "host")
    member = person(stack, "mona", "Mona Member")
    page = await browsers.page("hugo-2")
    await sign_in(page, stack.url, host)
    await page.get_by_test_id("new-meeting").click()
    await page.get_by_test_id("meeting-title-input").fill("Board meeting")
    await page.get_by_test_id("meeting-save").click()
    await page.get_by_test_id("meeting-view").wait_for()
    meeting_id = await page.get_by_test_id("meeting-view").get_attribute("data-meeting-id")
    await page.get_by_test_id("meeting-edit").click()
    await page.get_by_test_id("meeting-title-input").fill("Board meeting (private)")
    await page.get_by_test_id("meeting-password").fill("open-sesame")
    await page.get_by_test_id("meeting-save").click()
    await page.get_by_test_id("meeting-heading").filter(has_text="Board meeting (private)").wait_for()
    assert "Password" in await page.get_by_test_id("meeting-view").inner_text()

    other = await browsers.page("mona")
    await sign_in(other, stack.url, member)
    await join(other, stack.url, meeting_id, password="guess")
    await other.get_by_test_id("error-password").filter(has_text="is wrong").wait_for()
    await other.get_by_test_id("join-password").fill("open-sesame")
    await other.get_by_test_id("join-button").click()
    await joined(other)
    # while someone is in it, it is listed as live
    await page.goto(f"{stack.url}/meetings?scope=live")
    await page.locator(f"[data-testid=meeting-row][data-meeting-id='{meeting_id}']").wait_for(timeout=15_000)
    await other.get_by_test_id("leave").click()
    ended = other.locator("[data-testid=room-ended][data-reason=left]")
    await ended.wait_for()
    await other.get_by_test_id("rejoin").click()
    await other.get_by_test_id("join-password").wait_for()  # back on the join page, password asked again


async def test_deleting_asks_first_and_removes_the_meeting(stack: Stack, browsers) -> None:  # noqa: ANN001
    host = person(stack, "hugo", "Hugo Host", "host")
    page = await browsers.page("hugo-3")
    await sign_in(page, stack.url, host)
    await page.get_by_test_id("new-meeting").click()
    await page.get_by_test_id("meeting-title-input").fill("Soon gone")
    await page.get_by_test_id("meeting-save").click()
    meeting_id = await page.get_by_test_id("meeting-view").get_attribute("data-meeting-id")
    await page.goto(f"{stack.url}/meetings?scope=mine")
    row = page.locator(f"[data-testid=meeting-row][data-meeting-id='{meeting_id}']")
    await row.get_by_test_id("meeting-delete").click()
    confirm = row.get_by_test_id("meeting-delete-confirm")
    await confirm.click()
    await row.wait_for(state="detached")
    status = (await page.context.request.get(f"{stack.url}/api/v1/meetings/{meeting_id}")).status
    assert status == 404


async def test_the_join_link_of_a_members_only_meeting_asks_a_guest_to_sign_in(stack: Stack, browsers) -> None:  # noqa: ANN001
    host = person(stack, "hugo", "Hugo Host", "host")
    member = person(stack, "mona", "Mona Member")
    admin = stack.admin()
    try:
        r = stack_host_client(stack, host)
        meeting_id = r.post("/api/v1/meetings", json={"title": "Members only"}).json()["id"]
        r.close()
    finally:
        admin.close()
    page = await browsers.page("stranger")
    await page.goto(f"{stack.url}/m/{meeting_id}")
    await page.get_by_test_id("problem").filter(has_text="for signed-in people only").wait_for()
    await page.get_by_test_id("join-sign-in").click()
    await page.get_by_test_id("signin-username").fill(member.username)
    await page.get_by_test_id("signin-password").fill(member.password)
    await page.get_by_test_id("signin-submit").click()
    await page.wait_for_url(f"**/m/{meeting_id}")
    assert "Mona Member" in await page.get_by_test_id("join-as").inner_text()
    await wait_for(lambda: page.get_by_test_id("join-button").is_enabled())


def stack_host_client(stack: Stack, host):  # noqa: ANN001, ANN201
    import httpx

    client = httpx.Client(base_url=stack.url, timeout=10)
    r = client.post("/api/v1/auth/login", json={"username": host.username, "password": host.password})
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client
