"""Sessions: cookie + CSRF token, bearer tokens, sign-out, expiry, and sign-in attempt limits."""

from __future__ import annotations

import asyncio
import sqlite3

from control_plane.auth.principal import SESSION_COOKIE
from tests.control_plane.conftest import login, signed_in
from tests.support.util import eventually

CSRF_REFUSED = "CSRF token missing or wrong (send it in X-CSRF-Token)"


async def _maria(cp) -> str:  # noqa: ANN001
    return await cp.add_account("maria", "maria-password-1")


async def test_cookie_session_needs_the_csrf_token_on_unsafe_requests(control_plane) -> None:
    async with control_plane() as cp:
        maria_id = await _maria(cp)
        csrf = await signed_in(cp.client, "admin", cp.admin_password)
        change = {"display_name": "Maria Changed"}

        no_token = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json=change)
        assert no_token.status_code == 403 and no_token.json()["detail"] == CSRF_REFUSED
        wrong = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json=change,
                                      headers={"X-CSRF-Token": "not-the-token"})
        assert wrong.status_code == 403 and wrong.json()["detail"] == CSRF_REFUSED
        assert (await cp.client.get(f"/api/v1/accounts/{maria_id}")).json()["display_name"] == "Maria"  # unchanged

        ok = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json=change, headers=csrf)
        assert ok.status_code == 200 and ok.json()["display_name"] == "Maria Changed"
        # Reads need no token; /me hands the token out again (e.g. after a page reload).
        me = await cp.client.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["csrf_token"] == csrf["x-csrf-token"]
        # Signing out is state-changing too.
        assert (await cp.client.post("/api/v1/auth/logout")).json()["detail"] == CSRF_REFUSED
        assert (await cp.client.get("/api/v1/auth/me")).status_code == 200


async def test_bearer_token_works_without_csrf(control_plane) -> None:
    async with control_plane() as cp:
        maria_id = await _maria(cp)
        api = cp.browser()
        r = await api.post("/api/v1/auth/token", json={"username": "admin", "password": cp.admin_password})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "Bearer" and body["account"]["username"] == "admin" and body["token"]
        assert "set-cookie" not in r.headers and not api.cookies
        bearer = {"Authorization": f"Bearer {body['token']}"}

        changed = await api.patch(f"/api/v1/accounts/{maria_id}", json={"role": "host"}, headers=bearer)
        assert changed.status_code == 200 and changed.json()["role"] == "host"
        me = await api.get("/api/v1/auth/me", headers=bearer)
        assert me.status_code == 200 and me.json()["account"]["username"] == "admin"

        wrong = await api.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-real-token"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "sign in first"
        # A bearer token is not a cookie session and the other way round.
        as_cookie = cp.browser()
        as_cookie.cookies.set(SESSION_COOKIE, body["token"], domain="testserver.local")
        assert (await as_cookie.get("/api/v1/auth/me")).status_code == 401
        await signed_in(cp.client, "admin", cp.admin_password)
        cookie_token = cp.client.cookies[SESSION_COOKIE]
        r = await api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {cookie_token}"})
        assert r.status_code == 401

        out = await api.post("/api/v1/auth/logout", headers=bearer)
        assert out.status_code == 204
        assert (await api.get("/api/v1/auth/me", headers=bearer)).status_code == 401


async def test_logout_ends_the_session(control_plane) -> None:
    async with control_plane() as cp:
        csrf = await signed_in(cp.client, "admin", cp.admin_password)
        token = cp.client.cookies[SESSION_COOKIE]
        other = cp.browser()
        await signed_in(other, "admin", cp.admin_password)

        r = await cp.client.post("/api/v1/auth/logout", headers=csrf)
        assert r.status_code == 204
        assert 'cc_session=""' in r.headers["set-cookie"] or "cc_session=;" in r.headers["set-cookie"]
        assert "max-age=0" in r.headers["set-cookie"].lower()
        assert (await cp.client.get("/api/v1/auth/me")).status_code == 401
        replay = cp.browser()  # the old cookie, kept by someone, no longer opens anything
        replay.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
        assert (await replay.get("/api/v1/auth/me")).status_code == 401
        assert (await other.get("/api/v1/auth/me")).status_code == 200  # only this session ended


async def test_only_hashes_of_session_tokens_are_stored(control_plane) -> None:
    async with control_plane() as cp:
        await signed_in(cp.client, "admin", cp.admin_password)
        token = cp.client.cookies[SESSION_COOKIE]
        bearer = (await cp.browser().post("/api/v1/auth/token",
                                          json={"username": "admin", "password": cp.admin_password})).json()["token"]
        with sqlite3.connect(cp.db_path) as db:
            rows = db.execute("SELECT * FROM sessions").fetchall()
        assert len(rows) == 2
        dump = repr(rows)
        assert token not in dump and bearer not in dump


async def test_sessions_expire(control_plane) -> None:
    async with control_plane(accounts={"session_ttl": 3.0}) as cp:
        await signed_in(cp.client, "admin", cp.admin_password)
        token = cp.client.cookies[SESSION_COOKIE]

        async def refused() -> bool:  # the server refuses it, whatever the browser keeps
            replay = cp.browser()
            replay.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
            return (await replay.get("/api/v1/auth/me")).status_code == 401
        assert not await refused()
        await eventually(refused, timeout=8, interval=0.2, what="the session to expire")


async def test_idle_sessions_expire_and_use_keeps_them(control_plane) -> None:
    async with control_plane(accounts={"session_idle": 1.0}) as cp:
        await signed_in(cp.client, "admin", cp.admin_password)
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5  # used for longer than the idle timeout: still signed in
        while loop.time() < until:
            assert (await cp.client.get("/api/v1/auth/me")).status_code == 200
            await asyncio.sleep(0.1)

        async def signed_out() -> bool:
            return (await cp.client.get("/api/v1/auth/me")).status_code == 401
        await asyncio.sleep(1.2)  # left unused for longer than the idle timeout
        assert await signed_out()


async def test_rate_limit_per_account(control_plane) -> None:
    async with control_plane(accounts={"login_attempts_per_account": 3, "login_attempts_per_address": 100,
                                       "login_window": 2.0}) as cp:
        await _maria(cp)
        for i in range(3):  # from different addresses: the limit follows the account name
            r = await login(cp.browser(f"10.0.0.{i + 1}"), "maria", "guessing-wrong")
            assert r.status_code == 401
        limited = await login(cp.browser("10.0.0.9"), "Maria", "maria-password-1")  # right password, too
        assert limited.status_code == 429, limited.text
        assert limited.json()["detail"].startswith("too many failed sign-in attempts for this account")
        assert 1 <= int(limited.headers["retry-after"]) <= 3
        token = await cp.browser("10.0.0.9").post("/api/v1/auth/token",
                                                  json={"username": "maria", "password": "maria-password-1"})
        assert token.status_code == 429  # the token endpoint shares the limit
        # Other accounts are not affected.
        assert (await login(cp.browser("10.0.0.9"), "admin", cp.admin_password)).status_code == 200

        async def admitted() -> bool:
            return (await login(cp.browser("10.0.0.9"), "maria", "maria-password-1")).status_code == 200
        await eventually(admitted, timeout=6, interval=0.25, what="the window to make room again")


async def test_rate_limit_per_client_address(control_plane) -> None:
    async with control_plane(accounts={"login_attempts_per_account": 100, "login_attempts_per_address": 4}) as cp:
        await _maria(cp)
        attacker = cp.browser("192.0.2.66")
        for name in ("a", "b", "c", "d"):  # a different account name each time
            assert (await login(attacker, name, "spray-password")).status_code == 401
        limited = await login(attacker, "maria", "maria-password-1")
        assert limited.status_code == 429
        assert limited.json()["detail"].startswith("too many failed sign-in attempts for this address")
        assert int(limited.headers["retry-after"]) >= 1
        # Someone at another address signs in as usual.
        assert (await login(cp.browser("192.0.2.7"), "maria", "maria-password-1")).status_code == 200


async def test_success_clears_the_account_counter(control_plane) -> None:
    async with control_plane(accounts={"login_attempts_per_account": 3, "login_attempts_per_address": 100}) as cp:
        await _maria(cp)
        for _ in range(2):
            assert (await login(cp.client, "maria", "typo-password")).status_code == 401
        assert (await login(cp.client, "maria", "maria-password-1")).status_code == 200
        for _ in range(2):  # two more mistakes are allowed again
            assert (await login(cp.client, "maria", "typo-password")).status_code == 401
        assert (await login(cp.client, "maria", "maria-password-1")).status_code == 200
