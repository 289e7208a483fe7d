"""OpenID Connect sign-ins in progress: one client cannot fill the store and lock everyone out
(a real provider, npm oidc-provider)."""

from __future__ import annotations

import sqlite3

import httpx

from control_plane.auth.principal import SESSION_COOKIE
from tests.control_plane.conftest import OIDC_REDIRECT, oidc_settings
from tests.support.oidc import browser_login

START = "/api/v1/auth/oidc/test/start"


def _pending(cp) -> int:  # noqa: ANN001
    with sqlite3.connect(cp.db_path) as db:
        return db.execute("SELECT COUNT(*) FROM oidc_states").fetchone()[0]


async def _signs_in(browser: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
    r = await browser.get(START, headers=headers)
    assert r.status_code == 302, r.text
    redirected = await browser_login(r.headers["location"], "sam", redirect_prefix=OIDC_REDIRECT)
    back = await browser.get(redirected.path_and_query, headers=headers)
    assert back.status_code == 302, back.text
    assert SESSION_COOKIE in browser.cookies


async def test_one_client_cannot_fill_the_pending_sign_ins(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)],
                             accounts={"oidc_pending_per_address": 3, "oidc_pending_max": 10},
                             clients={"trusted_proxies": ["10.0.0.0/24"]}) as cp:
        flooder = cp.browser("192.0.2.66")
        for _ in range(3):
            assert (await flooder.get(START)).status_code == 302
        r = await flooder.get(START)
        assert r.status_code == 429, r.text
        retry = int(r.headers["retry-after"])
        assert 590 <= retry <= 601
        assert r.json()["detail"] == f"too many sign-ins in progress from your address (3); finish one or try again in {retry} s"
        # A made-up X-Forwarded-For from an untrusted peer changes nothing.
        assert (await flooder.get(START, headers={"X-Forwarded-For": "198.51.100.1"})).status_code == 429
        assert _pending(cp) == 3

        # Everyone else still signs in: from another address, and behind the trusted balancer.
        await _signs_in(cp.browser("192.0.2.7"))
        balancer = cp.browser("10.0.0.5")
        for _ in range(3):
            assert (await balancer.get(START, headers={"X-Forwarded-For": "198.51.100.9"})).status_code == 302
        assert (await balancer.get(START, headers={"X-Forwarded-For": "198.51.100.9"})).status_code == 429
        await _signs_in(cp.browser("10.0.0.5"), headers={"X-Forwarded-For": "198.51.100.10"})

        # Once its sign-ins have expired, the flooder may start again, and the expired rows are gone.
        states = cp.services.extra["oidc"].states
        real_clock = states.clock
        states.clock = lambda: real_clock() + states.ttl + 1
        assert (await flooder.get(START)).status_code == 302
        assert _pending(cp) == 1


async def test_the_cap_for_everyone_is_a_503(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)],
                             accounts={"oidc_pending_per_address": 5, "oidc_pending_max": 4}) as cp:
        for addr in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"):
            assert (await cp.browser(addr).get(START)).status_code == 302
        r = await cp.browser("192.0.2.5").get(START)
        assert r.status_code == 503 and r.json()["detail"] == "too many sign-ins in progress; try again in a minute"
