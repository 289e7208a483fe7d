"""OpenID Connect sign-in against a real provider (npm oidc-provider): the whole flow and every refusal."""

from __future__ import annotations

import sqlite3
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from control_plane.auth.oidc_flow import BROWSER_COOKIE, safe_next
from control_plane.auth.principal import SESSION_COOKIE
from tests.control_plane.conftest import OIDC_REDIRECT, oidc_settings
from tests.support.oidc import browser_login
from tests.support.util import free_port

START = "/api/v1/auth/oidc/test/start"


async def start(browser: httpx.AsyncClient, next_path: str | None = None) -> str:
    r = await browser.get(START, params={"next": next_path} if next_path is not None else None)
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def sign_in(browser: httpx.AsyncClient, login: str, next_path: str | None = None) -> httpx.Response:
    """Start at the control plane, sign in at the provider, come back: the callback's answer."""
    redirected = await browser_login(await start(browser, next_path), login, redirect_prefix=OIDC_REDIRECT)
    return await browser.get(redirected.path_and_query)


def _row(cp, username: str) -> sqlite3.Row | None:  # noqa: ANN001
    with sqlite3.connect(cp.db_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone()


def _fields(r: httpx.Response) -> list[dict[str, str]]:
    return r.json().get("fields", [])


async def test_whole_flow_opens_a_session_with_the_role_from_groups(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        providers = (await cp.client.get("/api/v1/auth/providers")).json()["oidc"]
        assert providers == [{"id": "test", "name": "Test IdP", "start_url": START}]

        browser = cp.browser()
        r = await browser.get(START, params={"next": "/meetings/abc?tab=chat"})
        assert r.status_code == 302
        location = urlsplit(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{oidc_provider.issuer}/auth"
        q = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert (q["response_type"], q["client_id"], q["redirect_uri"], q["code_challenge_method"]) == \
            ("code", oidc_provider.client_id, OIDC_REDIRECT, "S256")
        assert q["scope"] == "openid email profile groups" and q["state"] and q["nonce"] and q["code_challenge"]
        binding = r.headers["set-cookie"].lower()
        assert binding.startswith(f"{BROWSER_COOKIE}=") and "httponly" in binding and "samesite=lax" in binding

        redirected = await browser_login(r.headers["location"], "alice", redirect_prefix=OIDC_REDIRECT)
        back = await browser.get(redirected.path_and_query)
        assert back.status_code == 302, back.text
        assert back.headers["location"] == "/meetings/abc?tab=chat"
        assert SESSION_COOKIE in browser.cookies
        me = (await browser.get("/api/v1/auth/me")).json()
        account = me["account"]
        assert (account["username"], account["role"], account["source"], account["email"], account["display_name"]) \
            == ("alice", "admin", "oidc", "alice@example.org", "Alice Admin")
        assert me["csrf_token"]
        row = _row(cp, "alice")
        assert row["external_id"] == "test:alice" and row["password_hash"] is None

        again = await sign_in(cp.browser(), "alice")
        assert again.status_code == 302 and again.headers["location"] == "/"
        assert _row(cp, "alice")["id"] == account["id"]  # the same account, not a second one

        for login, role in (("harry", "host"), ("sam", "member")):
            b = cp.browser()
            assert (await sign_in(b, login)).status_code == 302
            assert (await b.get("/api/v1/auth/me")).json()["account"]["role"] == role


async def test_state_from_another_browser_is_refused(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        victim, attacker = cp.browser(), cp.browser()
        # The attacker starts a sign-in and tries to have it finish in the victim's browser.
        redirected = await browser_login(await start(attacker), "alice", redirect_prefix=OIDC_REDIRECT)
        await start(victim)  # the victim holds a binding cookie of its own
        r = await victim.get(redirected.path_and_query)
        assert r.status_code == 400
        assert _fields(r) == [{"field": "state",
                               "message": "was issued to another browser; start the sign-in again here"}]
        assert SESSION_COOKIE not in victim.cookies
        stranger = cp.browser()  # no binding cookie at all
        redirected = await browser_login(await start(attacker), "alice", redirect_prefix=OIDC_REDIRECT)
        r = await stranger.get(redirected.path_and_query)
        assert r.status_code == 400 and "another browser" in _fields(r)[0]["message"]
        assert _row(cp, "alice") is None


async def test_unknown_and_missing_state_are_refused(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        await start(browser)
        r = await browser.get("/api/v1/auth/oidc/test/callback", params={"code": "abc", "state": "made-up"})
        assert r.status_code == 400
        assert _fields(r) == [{"field": "state", "message": "is unknown or was already used; start the sign-in again"}]
        r = await browser.get("/api/v1/auth/oidc/test/callback", params={"code": "abc"})
        assert r.status_code == 400 and _fields(r) == [{"field": "state", "message": "is missing"}]


async def test_state_replay_is_refused(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        redirected = await browser_login(await start(browser), "sam", redirect_prefix=OIDC_REDIRECT)
        assert (await browser.get(redirected.path_and_query)).status_code == 302
        replay = await browser.get(redirected.path_and_query)
        assert replay.status_code == 400 and "already used" in _fields(replay)[0]["message"]
        assert "set-cookie" not in replay.headers


async def test_expired_state_is_refused(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        redirected = await browser_login(await start(browser), "sam", redirect_prefix=OIDC_REDIRECT)
        await cp.services.db.execute("UPDATE oidc_states SET expires_at = ?", (time.time() - 1,))
        r = await browser.get(redirected.path_and_query)
        assert r.status_code == 400 and _fields(r)[0]["message"].startswith("has expired")


async def test_nonce_mismatch_is_refused(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        redirected = await browser_login(await start(browser), "alice", redirect_prefix=OIDC_REDIRECT)
        # The id_token will carry the nonce sent to the provider; the one kept here is now another.
        assert await cp.services.db.execute("UPDATE oidc_states SET nonce = 'forged-nonce'") == 1
        r = await browser.get(redirected.path_and_query)
        assert r.status_code == 401
        assert r.json()["detail"] == "Test IdP: id_token refused: the nonce does not match this sign-in"
        assert SESSION_COOKIE not in browser.cookies and _row(cp, "alice") is None


async def test_code_from_another_sign_in_is_refused(control_plane, oidc_provider) -> None:
    """A code minted for sign-in A, delivered with sign-in B's state: PKCE (and the nonce) do not fit."""
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        url_a = await start(browser)
        url_b = await start(browser)
        code_a = (await browser_login(url_a, "alice", redirect_prefix=OIDC_REDIRECT)).params["code"]
        state_b = parse_qs(urlsplit(url_b).query)["state"][0]
        r = await browser.get("/api/v1/auth/oidc/test/callback", params={"code": code_a, "state": state_b})
        assert r.status_code == 401 and r.json()["detail"] == "Test IdP refused the sign-in code (invalid_grant)"
        assert _row(cp, "alice") is None


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
async def test_open_redirect_in_next_falls_back_to_root(control_plane, oidc_provider, next_path: str) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        r = await sign_in(cp.browser(), "sam", next_path)
        assert r.status_code == 302 and r.headers["location"] == "/"


def test_next_paths() -> None:
    for bad in ("//evil.example", "https://evil.example/x", "http:/evil", "/\\evil", "\\\\evil", "javascript:alert(1)",
                "evil.example", "/ok\r\nSet-Cookie: x=1", "/\tx", "", None, "/" + "a" * 2001):
        assert safe_next(bad) == "/", bad
    for good in ("/", "/meetings/abc", "/meetings/abc?tab=chat&x=1#top", "/a//b"):
        assert safe_next(good) == good


async def test_provider_error_is_a_clear_401(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        redirected = await browser_login(await start(browser), "alice", redirect_prefix=OIDC_REDIRECT, consent=False)
        assert redirected.params["error"] == "access_denied"
        r = await browser.get(redirected.path_and_query)
        assert r.status_code == 401
        assert r.json()["detail"] == "sign-in at Test IdP did not complete (access_denied: End-User aborted interaction)"
        # The state was used up by the failed attempt.
        again = await browser.get("/api/v1/auth/oidc/test/callback",
                                  params={"code": "x", "state": redirected.params["state"]})
        assert again.status_code == 400 and "already used" in _fields(again)[0]["message"]


async def test_issuer_parameter_must_name_the_provider(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        browser = cp.browser()
        redirected = await browser_login(await start(browser), "alice", redirect_prefix=OIDC_REDIRECT)
        params = {**redirected.params, "iss": "https://evil.example"}
        r = await browser.get("/api/v1/auth/oidc/test/callback", params=params)
        assert r.status_code == 400 and _fields(r)[0]["field"] == "iss"


async def test_domain_and_group_rules(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        r = await sign_in(cp.browser(), "outsider")
        assert r.status_code == 403 and r.json()["detail"] == "sign-in with Test IdP is limited to addresses in example.org"
        r = await sign_in(cp.browser(), "nogroups")
        assert r.status_code == 403
        assert r.json()["detail"] == "your Test IdP account is in none of the groups allowed to sign in here"
        assert _row(cp, "outsider") is None and _row(cp, "nogroups") is None
    async with control_plane(oidc=[oidc_settings(oidc_provider, allowed_domains=[], default_role="guest")]) as cp:
        for login in ("outsider", "nogroups"):
            b = cp.browser()
            assert (await sign_in(b, login)).status_code == 302
            assert (await b.get("/api/v1/auth/me")).json()["account"]["role"] == ("member" if login == "outsider"
                                                                                  else "guest")


async def test_unknown_provider_and_unconfigured_oidc_are_404(control_plane, oidc_provider) -> None:
    async with control_plane() as cp:
        r = await cp.client.get(START)
        assert r.status_code == 404 and r.json()["detail"] == "OpenID Connect sign-in is not configured on this server"
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        r = await cp.client.get("/api/v1/auth/oidc/other/start")
        assert r.status_code == 404 and r.json()["detail"] == "no sign-in provider 'other' is configured here"


async def test_provider_unreachable_is_503(control_plane, oidc_provider) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    async with control_plane(oidc=[oidc_settings(oidc_provider, issuer=gone)]) as cp:
        r = await cp.client.get(START)
        assert r.status_code == 503 and r.json()["detail"] == "Test IdP cannot be reached (discovery document)"
        assert (await cp.client.get("/api/v1/auth/providers")).json()["oidc"][0]["id"] == "test"


async def test_discovery_with_another_issuer_is_refused(control_plane, oidc_provider) -> None:
    # The same server reached under another name: its document names its real issuer.
    other_name = oidc_provider.issuer.replace("127.0.0.1", "localhost")
    async with control_plane(oidc=[oidc_settings(oidc_provider, issuer=other_name)]) as cp:
        r = await cp.client.get(START)
        assert r.status_code == 502 and "names issuer" in r.json()["detail"]


async def test_signing_keys_are_fetched_again_for_an_unknown_key_id(control_plane, oidc_provider) -> None:
    async with control_plane(oidc=[oidc_settings(oidc_provider)]) as cp:
        client = cp.services.extra["oidc"].clients["test"]
        # As if the provider had rotated its keys since they were last fetched.
        client._keys = [{"kty": "RSA", "kid": "retired-key", "n": "AQAB", "e": "AQAB", "use": "sig"}]
        client._keys_at = time.monotonic() - 3600
        browser = cp.browser()
        assert (await sign_in(browser, "harry")).status_code == 302
        assert [k["kid"] for k in client._keys] == ["test-key-1"]


async def test_state_for_another_provider_and_missing_code_are_refused(control_plane, oidc_provider) -> None:
    second = oidc_settings(oidc_provider, id="second", name="Second IdP")
    async with control_plane(oidc=[oidc_settings(oidc_provider), second]) as cp:
        assert [p["id"] for p in (await cp.client.get("/api/v1/auth/providers")).json()["oidc"]] == ["test", "second"]
        browser = cp.browser()
        state = parse_qs(urlsplit(await start(browser)).query)["state"][0]
        r = await browser.get("/api/v1/auth/oidc/second/callback", params={"code": "x", "state": state})
        assert r.status_code == 400
        assert _fields(r) == [{"field": "state", "message": "belongs to a sign-in with another provider"}]
        state = parse_qs(urlsplit(await start(browser)).query)["state"][0]
        r = await browser.get("/api/v1/auth/oidc/test/callback", params={"state": state})
        assert r.status_code == 400 and _fields(r) == [{"field": "code", "message": "is missing"}]
