"""Local accounts: first admin, sign-in, registration, password changes and administration."""

from __future__ import annotations

import time

from tests.control_plane.conftest import login, signed_in

WRONG = "wrong user name or password"


def field_names(r) -> list[str]:  # noqa: ANN001
    return [f["field"] for f in r.json().get("fields", [])]


async def test_first_admin_is_created_once(control_plane, tmp_path) -> None:
    async with control_plane() as cp:
        headers = await signed_in(cp.client, "admin", cp.admin_password)
        me = (await cp.client.get("/api/v1/auth/me")).json()
        assert me["account"]["role"] == "admin" and me["account"]["source"] == "local"
        assert me["csrf_token"] == headers["x-csrf-token"]
        assert me["expires_at"] > time.time() + 3600  # the 12 h session lifetime
    first = cp.admin_password
    async with control_plane() as cp2:  # same database: no second admin, no new password
        assert cp2.admin_password == first
        await signed_in(cp2.client, "admin", first)
        accounts = (await cp2.client.get("/api/v1/accounts/")).json()
        assert [a["username"] for a in accounts] == ["admin"]


async def test_local_sign_in_and_wrong_password(control_plane) -> None:
    async with control_plane() as cp:
        await cp.add_account("maria", "maria-password-1")
        r = await login(cp.client, "maria", "maria-password-1")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["account"]["username"] == "maria" and body["account"]["role"] == "member"
        assert body["csrf_token"] and body["expires_at"] > 0
        set_cookie = r.headers["set-cookie"].lower()
        assert "cc_session=" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
        assert body["account"]["last_login_at"] is not None

        other = cp.browser()
        wrong = await login(other, "maria", "not-her-password")
        assert wrong.status_code == 401 and wrong.json()["detail"] == WRONG
        assert "set-cookie" not in wrong.headers
        unknown = await login(other, "nobody-here", "whatever-password")
        assert unknown.status_code == 401 and unknown.json()["detail"] == WRONG
        assert (await other.get("/api/v1/auth/me")).status_code == 401


async def test_disabled_user_is_refused_and_its_sessions_end(control_plane) -> None:
    async with control_plane() as cp:
        maria_id = await cp.add_account("maria", "maria-password-1")
        admin = await signed_in(cp.client, "admin", cp.admin_password)
        maria = cp.browser()
        await signed_in(maria, "maria", "maria-password-1")
        assert (await maria.get("/api/v1/auth/me")).status_code == 200

        r = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json={"disabled": True}, headers=admin)
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert (await maria.get("/api/v1/auth/me")).status_code == 401  # at once, not at expiry
        refused = await login(cp.browser(), "maria", "maria-password-1")
        assert refused.status_code == 403 and refused.json()["detail"] == "this account is disabled"
        still_wrong = await login(cp.browser(), "maria", "bad-password")
        assert still_wrong.status_code == 401  # a wrong password does not reveal the account is disabled

        r = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json={"disabled": False}, headers=admin)
        assert r.status_code == 200 and r.json()["disabled"] is False
        assert (await login(cp.browser(), "maria", "maria-password-1")).status_code == 200


async def test_registration_off_is_refused(control_plane) -> None:
    async with control_plane() as cp:
        r = await cp.client.post("/api/v1/auth/register", json={"username": "newbie", "password": "long-enough-pw"})
        assert r.status_code == 403 and r.json()["detail"] == "registration is switched off on this server"
        providers = (await cp.client.get("/api/v1/auth/providers")).json()
        assert providers == {"registration": False, "ldap": False, "oidc": []}
        assert (await login(cp.client, "newbie", "long-enough-pw")).status_code == 401


async def test_registration_on_creates_a_member_and_signs_in(control_plane) -> None:
    async with control_plane(accounts={"allow_registration": True, "default_role": "member"}) as cp:
        r = await cp.client.post("/api/v1/auth/register", json={
            "username": "newbie", "password": "long-enough-pw", "display_name": "New Bie",
            "email": "newbie@example.org"})
        assert r.status_code == 201, r.text
        account = r.json()["account"]
        assert (account["username"], account["role"], account["display_name"], account["email"]) == \
            ("newbie", "member", "New Bie", "newbie@example.org")
        me = await cp.client.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["account"]["id"] == account["id"]
        assert (await cp.client.get("/api/v1/auth/providers")).json()["registration"] is True


async def test_username_taken_is_a_conflict_naming_the_field(control_plane) -> None:
    async with control_plane(accounts={"allow_registration": True}) as cp:
        for name in ("admin", "ADMIN"):  # names compare case-insensitively
            r = await cp.client.post("/api/v1/auth/register", json={"username": name, "password": "long-enough-pw"})
            assert r.status_code == 409, r.text
            assert r.json()["fields"] == [{"field": "username", "message": "is already taken"}]
        # The existing admin's password is untouched.
        assert (await login(cp.browser(), "admin", cp.admin_password)).status_code == 200


async def test_validation_errors_name_the_field(control_plane) -> None:
    async with control_plane(accounts={"allow_registration": True}) as cp:
        cases = [
            ({"username": "ok-name", "password": "short"}, "password"),
            ({"username": "bad name!", "password": "long-enough-pw"}, "username"),
            ({"username": "ok-name", "password": "long-enough-pw", "email": "not-an-address"}, "email"),
            ({"password": "long-enough-pw"}, "username"),
        ]
        for body, field in cases:
            r = await cp.client.post("/api/v1/auth/register", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"] == "validation_failed" and field in field_names(r), (body, r.json())
        # An unknown field is refused, naming it (one may not choose one's own role).
        r = await cp.client.post("/api/v1/auth/register",
                                 json={"username": "ok-name", "password": "long-enough-pw", "role": "admin"})
        assert r.status_code == 400 and "unknown field `role`" in r.json()["fields"][0]["message"]
        r = await cp.client.post("/api/v1/auth/login", json={"username": "admin", "password": ""})
        assert r.status_code == 400 and "password" in field_names(r)
        r = await cp.client.post("/api/v1/auth/login", json={"username": "admin", "password": "x", "method": "x"})
        assert r.status_code == 400 and "method" in field_names(r)
        assert (await login(cp.client, "ok-name", "long-enough-pw")).status_code == 401  # nothing was created


async def test_change_password(control_plane) -> None:
    async with control_plane() as cp:
        await cp.add_account("maria", "maria-password-1")
        here = await signed_in(cp.client, "maria", "maria-password-1")
        elsewhere = cp.browser()
        await signed_in(elsewhere, "maria", "maria-password-1")

        r = await cp.client.post("/api/v1/auth/password", headers=here,
                                 json={"current_password": "wrong-one", "new_password": "maria-password-2"})
        assert r.status_code == 403 and r.json()["fields"] == [{"field": "current_password", "message": "is wrong"}]
        r = await cp.client.post("/api/v1/auth/password", headers=here,
                                 json={"current_password": "maria-password-1", "new_password": "short"})
        assert r.status_code == 400 and "new_password" in field_names(r)
        assert (await elsewhere.get("/api/v1/auth/me")).status_code == 200  # refusals changed nothing

        r = await cp.client.post("/api/v1/auth/password", headers=here,
                                 json={"current_password": "maria-password-1", "new_password": "maria-password-2"})
        assert r.status_code == 204, r.text
        assert (await cp.client.get("/api/v1/auth/me")).status_code == 200  # this session stays
        assert (await elsewhere.get("/api/v1/auth/me")).status_code == 401  # the others end
        assert (await login(cp.browser(), "maria", "maria-password-1")).status_code == 401
        assert (await login(cp.browser(), "maria", "maria-password-2")).status_code == 200


async def test_admin_lists_changes_roles_and_names(control_plane) -> None:
    async with control_plane() as cp:
        maria_id = await cp.add_account("maria", "maria-password-1")
        await cp.add_account("mario", "mario-password-1")
        admin = await signed_in(cp.client, "admin", cp.admin_password)

        listed = (await cp.client.get("/api/v1/accounts/")).json()
        assert [a["username"] for a in listed] == ["admin", "maria", "mario"]
        assert all("password_hash" not in a for a in listed)
        found = (await cp.client.get("/api/v1/accounts/", params={"q": "mari", "limit": 1, "offset": 1})).json()
        assert [a["username"] for a in found] == ["mario"]
        one = await cp.client.get(f"/api/v1/accounts/{maria_id}")
        assert one.status_code == 200 and one.json()["username"] == "maria"
        assert (await cp.client.get("/api/v1/accounts/no-such-id")).status_code == 404

        r = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json={"role": "host", "display_name": "Maria R"},
                                  headers=admin)
        assert r.status_code == 200 and (r.json()["role"], r.json()["display_name"]) == ("host", "Maria R")
        maria = cp.browser()
        await signed_in(maria, "maria", "maria-password-1")
        assert (await maria.get("/api/v1/auth/me")).json()["account"]["role"] == "host"

        bad = await cp.client.patch(f"/api/v1/accounts/{maria_id}", json={"role": "emperor"}, headers=admin)
        assert bad.status_code == 400 and "role" in field_names(bad)
        missing = await cp.client.patch("/api/v1/accounts/no-such-id", json={"role": "host"}, headers=admin)
        assert missing.status_code == 404 and missing.json()["detail"] == "no such account"


async def test_admins_cannot_demote_or_disable_themselves(control_plane) -> None:
    async with control_plane() as cp:
        admin = await signed_in(cp.client, "admin", cp.admin_password)
        me = (await cp.client.get("/api/v1/auth/me")).json()["account"]["id"]
        for body, field in (({"role": "member"}, "role"), ({"disabled": True}, "disabled")):
            r = await cp.client.patch(f"/api/v1/accounts/{me}", json=body, headers=admin)
            assert r.status_code == 400
            assert r.json()["fields"] == [{"field": field, "message": "admins cannot demote or disable themselves"}]
        assert (await cp.client.get("/api/v1/auth/me")).json()["account"]["role"] == "admin"


async def test_members_and_hosts_may_not_use_admin_apis(control_plane) -> None:
    async with control_plane() as cp:
        admin_id = (await cp.services.accounts.repo.by_username("admin"))["id"]
        for role in ("member", "host"):
            await cp.add_account(f"user-{role}", "user-password-1", role=role)
            browser = cp.browser()
            csrf = await signed_in(browser, f"user-{role}", "user-password-1")
            calls = [("list accounts", await browser.get("/api/v1/accounts/")),
                     ("read accounts", await browser.get(f"/api/v1/accounts/{admin_id}")),
                     ("change accounts", await browser.patch(f"/api/v1/accounts/{admin_id}", headers=csrf,
                                                             json={"disabled": True}))]
            for action, r in calls:
                assert r.status_code == 403, r.text
                assert r.json()["detail"] == f"role '{role}' may not {action} (needs 'admin')"
        assert (await login(cp.browser(), "admin", cp.admin_password)).status_code == 200  # not disabled


async def test_signed_out_callers_get_401(control_plane) -> None:
    async with control_plane() as cp:
        for method, path in (("GET", "/api/v1/auth/me"), ("GET", "/api/v1/accounts/"),
                             ("POST", "/api/v1/auth/logout")):
            r = await cp.client.request(method, path)
            assert r.status_code == 401 and r.json()["detail"] == "sign in first", (path, r.text)


async def test_account_search_matches_wildcards_literally(control_plane) -> None:
    async with control_plane() as cp:
        for username in ("ann_a", "annxa", "bob"):
            await cp.add_account(username, "user-password-1")
        async with cp.services.db.transaction() as conn:
            await cp.services.accounts.repo.update(conn, (await cp.services.accounts.repo.by_username("bob"))["id"],
                                                   display_name="Bob 100% \\ sure")
        await signed_in(cp.client, "admin", cp.admin_password)

        async def search(q: str) -> list[str]:
            r = await cp.client.get("/api/v1/accounts/", params={"q": q})
            assert r.status_code == 200, r.text
            return [a["username"] for a in r.json()]

        assert await search("n_a") == ["ann_a"]  # "_" is not "any one character"
        assert await search("%") == ["bob"]  # "%" is not "anything"
        assert await search("100%") == ["bob"]
        assert await search("\\") == ["bob"]  # the escape character itself
        assert await search("\\%") == []
        assert await search("nxa") == ["annxa"]
