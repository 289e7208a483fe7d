"""Administration in real Chromium: an admin creates an account (its password shown once), changes
its role and disables it (it can no longer sign in), sees the live edge with its load, the
recordings and the audit log naming those actions; a member gets no such pages; a local account
changes its own password (a wrong current one is named next to its field)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.stack import Stack
from tests.e2e.ui import sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def person(stack: Stack, username: str, display_name: str, role: str = "member"):  # noqa: ANN201
    return stack.people.get(username) or stack.add_person(username, display_name, role)


def signs_in(stack: Stack, username: str, password: str) -> int:
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        return http.post("/api/v1/auth/token", json={"username": username, "password": password}).status_code


async def test_an_admin_manages_accounts_and_sees_edges_recordings_and_the_audit_log(stack: Stack, browsers) -> None:  # noqa: ANN001
    ada = person(stack, "ada-admin", "Ada Admin", "admin")
    page = await browsers.page("ada-admin")
    await sign_in(page, stack.url, ada)
    await page.get_by_test_id("nav-admin").click()
    await page.wait_for_url("**/admin/accounts")
    await page.get_by_test_id("new-account-username").fill("olga")
    await page.get_by_test_id("new-account-name").fill("Olga Operator")
    await page.get_by_test_id("new-account-role").select_option("host")
    await page.get_by_test_id("new-account-create").click()
    shown = page.get_by_test_id("new-account-password").locator("code")
    await shown.wait_for()
    password = await shown.inner_text()
    assert len(password) >= 10 and signs_in(stack, "olga", password) == 200

    row = page.locator("[data-testid=account-row][data-username=olga]")
    await row.wait_for()
    assert await row.get_by_test_id("account-role").input_value() == "host"
    await row.get_by_test_id("account-role").select_option("member")
    await page.get_by_test_id("toast").filter(has_text="olga is now member").wait_for()
    await row.get_by_test_id("account-disable").click()
    await page.locator("[data-testid=account-row][data-username=olga][data-disabled=true]").wait_for()
    assert signs_in(stack, "olga", password) == 403                       # disabled: refused
    mine = page.locator("[data-testid=account-row][data-username=ada-admin]")
    assert await mine.get_by_test_id("account-disable").is_disabled()    # not one's own account

    await page.get_by_test_id("admin-tab-edges").click()
    edge = page.get_by_test_id("edge-row")
    await edge.first.wait_for()
    assert stack.edges[0].config["edge_id"] in [await r.get_attribute("data-edge-id") for r in await edge.all()]
    assert (await edge.first.get_by_test_id("edge-cpu").inner_text()).endswith("%")
    await page.get_by_test_id("admin-tab-recordings").click()
    await page.get_by_test_id("admin-recordings").wait_for()
    await page.get_by_test_id("admin-tab-audit").click()
    actions = page.get_by_test_id("audit-action")
    await actions.first.wait_for()
    seen = await actions.all_inner_texts()
    assert {"account.create", "account.role", "account.disable"} <= set(seen), seen


async def test_a_member_gets_no_administration_and_changes_her_password(stack: Stack, browsers) -> None:  # noqa: ANN001
    mia = person(stack, "mia-member", "Mia Member")
    page = await browsers.page("mia-member")
    await sign_in(page, stack.url, mia)
    assert await page.get_by_test_id("nav-admin").count() == 0
    await page.goto(f"{stack.url}/admin/accounts")
    await page.get_by_test_id("problem").filter(has_text="Only administrators").wait_for()

    await page.get_by_test_id("account-name").click()
    await page.wait_for_url("**/account")
    assert await page.get_by_test_id("account-role-text").inner_text() == "member"
    await page.get_by_test_id("current-password").fill("not my password at all")
    await page.get_by_test_id("new-password").fill("a brand new passphrase")
    await page.get_by_test_id("new-password-again").fill("a brand new passphrase")
    await page.get_by_test_id("password-save").click()
    await wait_for(lambda: page.get_by_test_id("password-form").locator(".field-error, .form-error")
                   .filter(has_text="wrong").count(), what="the wrong current password named")
    await page.get_by_test_id("current-password").fill(mia.password)
    await page.get_by_test_id("new-password-again").fill("something else entirely")
    await page.get_by_test_id("password-save").click()
    await page.get_by_test_id("error-again").filter(has_text="differ").wait_for()
    await page.get_by_test_id("new-password-again").fill("a brand new passphrase")
    await page.get_by_test_id("password-save").click()
    await page.get_by_test_id("password-changed").wait_for()
    assert signs_in(stack, "mia-member", "a brand new passphrase") == 200
    assert signs_in(stack, "mia-member", mia.password) == 401
    stack.people["mia-member"] = type(mia)(mia.username, "a brand new passphrase", mia.display_name, mia.role)
