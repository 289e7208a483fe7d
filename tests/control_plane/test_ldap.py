"""LDAP sign-in against a real slapd: roles from groups, refusals, injection, outages."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator

import pytest

from control_plane.accounts.service import AccountService
from control_plane.auth.ldap import LdapAuthenticator, normalize_dn, role_for_groups
from control_plane.settings import LdapSettings
from tests.control_plane.conftest import ldap_settings, login, signed_in
from tests.support.ldap import PEOPLE, SUFFIX, group_dn
from tests.support.util import free_port

WRONG = "wrong user name or password"


async def _account_row(cp, username: str) -> sqlite3.Row:  # noqa: ANN001
    with sqlite3.connect(cp.db_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone()


async def test_sign_in_creates_the_account_with_the_mapped_role(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        assert (await cp.client.get("/api/v1/auth/providers")).json()["ldap"] is True
        expected = {"alice": "admin", "harry": "host", "sam": "member"}  # alice is in admins and hosts
        for uid, role in expected.items():
            r = await login(cp.browser(), uid, slapd.directory.person(uid).password)
            assert r.status_code == 200, r.text
            account = r.json()["account"]
            assert (account["username"], account["role"], account["source"]) == (uid, role, "ldap")
        alice = await _account_row(cp, "alice")
        assert (alice["display_name"], alice["email"]) == ("Alice Admin", "alice@example.org")
        assert alice["external_id"] and alice["external_id"] != f"uid=alice,{PEOPLE}"  # the entryUUID
        # A cookie session like any other.
        browser = cp.browser()
        await signed_in(browser, "alice", "alice-pw-1")
        me = (await browser.get("/api/v1/auth/me")).json()["account"]
        assert me["role"] == "admin" and me["source"] == "ldap"
        # A second sign-in finds the same account.
        again = await login(cp.browser(), "alice", "alice-pw-1")
        assert again.json()["account"]["id"] == me["id"]


async def test_group_change_updates_the_role_at_next_sign_in(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        first = await login(cp.browser(), "sam", "sam-pw-1")
        assert first.json()["account"]["role"] == "member"
        slapd.set_members("hosts", ["harry", "alice", "sam"])
        second = await login(cp.browser(), "sam", "sam-pw-1")
        assert (second.json()["account"]["role"], second.json()["account"]["id"]) == \
            ("host", first.json()["account"]["id"])
        slapd.set_members("hosts", ["harry", "alice"])
        slapd.set_members("staff", ["star*(user)"])
        gone = await login(cp.browser(), "sam", "sam-pw-1")  # in no mapped group, default_role ""
        assert gone.status_code == 403
        assert gone.json()["detail"] == "your directory account is in none of the groups allowed to sign in here"


async def test_users_in_no_mapped_group_get_the_default_role_or_are_refused(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        r = await login(cp.browser(), "nobody", "nobody-pw-1")
        assert r.status_code == 403 and "none of the groups" in r.json()["detail"]
        assert await _account_row(cp, "nobody") is None
    async with control_plane(ldap=ldap_settings(slapd, default_role="guest")) as cp:
        r = await login(cp.browser(), "nobody", "nobody-pw-1")
        assert r.status_code == 200 and r.json()["account"]["role"] == "guest"


async def test_wrong_password_and_unknown_user_get_the_same_answer(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        wrong = await login(cp.browser(), "alice", "not-alices-password")
        unknown = await login(cp.browser(), "mallory", "whatever")
        for r in (wrong, unknown):
            assert r.status_code == 401 and r.json()["detail"] == WRONG
        assert await _account_row(cp, "alice") is None and await _account_row(cp, "mallory") is None


@pytest.mark.parametrize("name", ["*)(uid=*", "admin)(|(uid=*", "*", "al*", "alic?", "alice)(cn=*", "\\2a"])
async def test_filter_injection_is_refused(control_plane, slapd, name: str) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        # With alice's real password: an unescaped "al*" would find exactly alice and sign in as her.
        r = await login(cp.browser(), name, "alice-pw-1", method="ldap")
        assert r.status_code == 401 and r.json()["detail"] == WRONG, r.text
        assert await _account_row(cp, "alice") is None


async def test_special_characters_are_literal(control_plane, slapd) -> None:
    """The filter is escaped: a user really named ``star*(user)`` signs in, and only that user."""
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        r = await login(cp.browser(), "star*(user)", "star-pw-1")
        assert r.status_code == 200, r.text
        assert (r.json()["account"]["username"], r.json()["account"]["role"]) == ("star*(user)", "member")
        assert (await login(cp.browser(), "star*", "star-pw-1")).status_code == 401


async def test_control_characters_and_empty_passwords_are_refused(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        r = await login(cp.browser(), "alice\x00", "alice-pw-1", method="ldap")
        assert r.status_code == 400
        assert r.json()["fields"] == [{"field": "username", "message": "must not contain control characters"}]
        r = await login(cp.browser(), "alice\n", "alice-pw-1", method="ldap")
        assert r.status_code == 400 and r.json()["fields"][0]["field"] == "username"
        r = await login(cp.browser(), "alice", "", method="ldap")
        assert r.status_code == 400 and [f["field"] for f in r.json()["fields"]] == ["password"]
        # Called directly (not through the HTTP schema), an empty password is refused before any bind:
        # a simple bind with a DN and no password is an anonymous bind, which the directory accepts.
        with pytest.raises(Exception) as caught:
            await cp.services.extra["ldap"].authenticate("alice", "")
        assert getattr(caught.value, "status_code", None) == 400 and "password" in str(caught.value.detail)
        assert await _account_row(cp, "alice") is None


async def test_ambiguous_match_is_refused(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        for password in ("twin-pw-1", "twin-pw-2"):  # either entry's password would bind
            r = await login(cp.browser(), "twin", password)
            assert r.status_code == 401 and r.json()["detail"] == WRONG
        assert await _account_row(cp, "twin") is None


async def test_directory_password_is_not_stored(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        assert (await login(cp.browser(), "alice", "alice-pw-1")).status_code == 200
        row = await _account_row(cp, "alice")
        assert row["password_hash"] is None and row["source"] == "ldap"
    data = b"".join(p.read_bytes() for p in cp.db_path.parent.glob(cp.db_path.name + "*"))
    assert b"alice-pw-1" not in data


async def test_outages_do_not_count_towards_the_rate_limit(control_plane, slapd) -> None:
    closed = free_port()
    async with control_plane(ldap=ldap_settings(slapd, url=f"ldap://127.0.0.1:{closed}"),
                             accounts={"login_attempts_per_account": 2}) as cp:
        for _ in range(4):
            assert (await login(cp.browser(), "alice", "alice-pw-1")).status_code == 503


async def test_directory_down_is_503(control_plane, slapd) -> None:
    closed = free_port()
    async with control_plane(ldap=ldap_settings(slapd, url=f"ldap://127.0.0.1:{closed}")) as cp:
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 503
        assert r.json()["detail"].startswith(f"the directory at ldap://127.0.0.1:{closed} cannot be reached")
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        slapd.stop()
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 503 and "cannot be reached" in r.json()["detail"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


async def test_directory_that_does_not_answer_is_503(control_plane, slapd, silent_server: int) -> None:
    settings = ldap_settings(slapd, url=f"ldap://127.0.0.1:{silent_server}", timeout=0.5)
    async with control_plane(ldap=settings) as cp:
        r = await asyncio.wait_for(login(cp.browser(), "alice", "alice-pw-1"), timeout=10)
        assert r.status_code == 503 and f"127.0.0.1:{silent_server}" in r.json()["detail"]


@pytest.mark.allow_errors(r"ldap service bind refused", reason="a wrong service account is logged for the operator")
async def test_wrong_service_account_is_503_naming_the_problem(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd, bind_password="not-the-service-password")) as cp:
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 503 and "refused the service account" in r.json()["detail"]


async def test_local_accounts_still_sign_in_locally(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        r = await login(cp.browser(), "admin", cp.admin_password)
        assert r.status_code == 200 and r.json()["account"]["source"] == "local"
        r = await login(cp.browser(), "admin", cp.admin_password, method="ldap")  # no such directory user
        assert r.status_code == 401


async def test_ldap_failures_count_towards_the_rate_limit(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd), accounts={"login_attempts_per_account": 2}) as cp:
        for _ in range(2):
            assert (await login(cp.browser(), "alice", "guess")).status_code == 401
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 429 and "retry-after" in r.headers


async def test_disabled_ldap_account_is_refused(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd)) as cp:
        harry = (await login(cp.browser(), "harry", "harry-pw-1")).json()["account"]["id"]
        admin = await signed_in(cp.client, "admin", cp.admin_password)
        assert (await cp.client.patch(f"/api/v1/accounts/{harry}", json={"disabled": True}, headers=admin)).is_success
        r = await login(cp.browser(), "harry", "harry-pw-1")
        assert r.status_code == 403 and r.json()["detail"] == "this account is disabled"


def test_role_mapping_rules() -> None:
    admins, hosts = group_dn("admins"), group_dn("hosts")
    assert normalize_dn("CN=Admins, OU=Groups,DC=example,DC=org") == normalize_dn(admins)
    role_map = {admins.upper(): "admin", hosts: "host"}
    assert role_for_groups([hosts, admins], role_map, "") == "admin"
    assert role_for_groups([hosts], role_map, "") == "host"
    assert role_for_groups([f"cn=other,{SUFFIX}"], role_map, "") is None
    assert role_for_groups([], role_map, "guest") == "guest"


def test_unknown_role_in_settings_is_refused_at_start() -> None:
    s = LdapSettings(url="ldap://127.0.0.1:1", user_base=PEOPLE, role_map={group_dn("admins"): "superuser"})
    with pytest.raises(ValueError, match="maps to unknown role 'superuser'"):
        LdapAuthenticator(s, AccountService.__new__(AccountService))


@pytest.mark.allow_errors(r"ldap sign-in failed", reason="a user filter the directory refuses is logged for the operator")
async def test_invalid_user_filter_in_settings_is_503_naming_it(control_plane, slapd) -> None:
    async with control_plane(ldap=ldap_settings(slapd, user_filter="(uid={username}")) as cp:
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 503 and r.json()["detail"].startswith("LDAP sign-in is misconfigured here")


async def test_a_password_with_a_tab_is_a_wrong_password(control_plane, slapd) -> None:
    """A simple bind cannot carry control characters: such a password is wrong, and counted as a failure."""
    from tests.support.records import Records

    with Records("control_plane.auth.ldap") as records:
        async with control_plane(ldap=ldap_settings(slapd), accounts={"login_attempts_per_account": 2}) as cp:
            for password in ("alice\tpw-1", "\x7f"):
                r = await login(cp.browser(), "alice", password)
                assert r.status_code == 401 and r.json()["detail"] == WRONG, r.text
            r = await login(cp.browser(), "alice", "alice-pw-1")  # both failures counted: now limited
            assert r.status_code == 429
    assert [rec.getMessage() for rec in records if rec.levelno >= 30] == []  # was: ERROR "ldap sign-in failed"
