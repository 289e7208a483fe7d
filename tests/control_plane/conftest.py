"""Fixtures for the control plane's sign-in tests: the app in-process, real slapd, real OIDC provider.

``control_plane`` (a factory) starts ``create_app(settings)`` in-process with its own SQLite file;
the first admin's generated password is read from ``bootstrap.admin_password_file``. NATS is not
needed for sign-in: the bus keeps trying to connect in the background.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from control_plane.accounts import passwords
from control_plane.accounts.passwords import hash_password_async
from control_plane.app import create_app
from control_plane.auth.principal import CSRF_HEADER
from control_plane.services import Services
from control_plane.settings import Settings
from tests.support.ldap import Directory, Person, Slapd, slapd_available
from tests.support.oidc import OidcProvider, oidc_provider_available
from tests.support.util import CHEAP_HASHING, free_port, require

passwords.configure(CHEAP_HASHING["password_hash_memory_kib"], CHEAP_HASHING["password_hash_passes"])

BASE_URL = "http://testserver.local"
OIDC_PROVIDER_ID = "test"
OIDC_REDIRECT = f"{BASE_URL}/api/v1/auth/oidc/{OIDC_PROVIDER_ID}/callback"


@dataclass
class ControlPlane:
    app: Litestar
    client: AsyncTestClient
    admin_password: str
    db_path: Path
    _browsers: list[httpx.AsyncClient]

    @property
    def services(self) -> Services:
        return self.app.state.services

    def browser(self, addr: str = "127.0.0.2") -> httpx.AsyncClient:
        """Another browser (own cookie jar) talking to the same app, from client address *addr*."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=(addr, 50000)),
                                   base_url=BASE_URL, follow_redirects=False)
        self._browsers.append(client)
        return client

    async def add_account(self, username: str, password: str, role: str = "member") -> str:
        """A local account, as an admin would have made it (test set-up)."""
        pw_hash = await hash_password_async(password)
        accounts = self.services.accounts
        async with accounts.db.transaction() as conn:
            return await accounts.repo.insert(conn, username=username, display_name=username.title(), role=role,
                                              source="local", password_hash=pw_hash)


async def login(client: httpx.AsyncClient, username: str, password: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})


async def signed_in(client: httpx.AsyncClient, username: str, password: str, **extra: Any) -> dict[str, str]:
    """Sign *client* in with a cookie session; returns the CSRF header to send on unsafe requests."""
    r = await login(client, username, password, **extra)
    assert r.status_code == 200, r.text
    return {CSRF_HEADER: r.json()["csrf_token"]}


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "public_url": BASE_URL,
        "nats": {"servers": [f"nats://127.0.0.1:{free_port()}"], "connect_timeout": 0.2},
        "database": {"path": str(tmp_path / "cp.sqlite3")},
        "keys": {"dir": str(tmp_path / "keys")},
        "bootstrap": {"admin_username": "admin", "admin_password_file": str(tmp_path / "admin-password")},
        "accounts": dict(CHEAP_HASHING),
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return msgspec.convert(data, Settings)


@pytest.fixture
def control_plane(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[ControlPlane]]:
    """``async with control_plane(accounts={...}, ldap={...}) as cp:`` — settings sections override."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[ControlPlane]:
        settings = settings_for(tmp_path, **overrides)
        app = create_app(settings)
        async with AsyncTestClient(app, base_url=BASE_URL) as client:
            password = (tmp_path / "admin-password").read_text().strip()
            cp = ControlPlane(app, client, password, Path(settings.database.path), [])
            try:
                yield cp
            finally:
                for b in cp._browsers:
                    await b.aclose()

    return start


# -- LDAP ------------------------------------------------------------------------------------------

def seed_directory() -> Directory:
    return Directory(
        people=[
            Person("alice", "alice-pw-1", cn="Alice Admin", mail="alice@example.org"),
            Person("harry", "harry-pw-1", cn="Harry Host", mail="harry@example.org"),
            Person("sam", "sam-pw-1", cn="Sam Staff"),
            Person("nobody", "nobody-pw-1", cn="No Groups"),
            Person("star*(user)", "star-pw-1", cn="Star User"),
            Person("twin", "twin-pw-1", cn="Twin One"),
            Person("twin", "twin-pw-2", cn="Twin Two", ou="ou=contractors,ou=people"),
        ],
        groups={"admins": ["alice"], "hosts": ["harry", "alice"], "staff": ["sam", "star*(user)"]},
        units=["ou=contractors,ou=people"],
    )


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A real slapd seeded with :func:`seed_directory`, stopped after the test."""
    require(slapd_available(), "slapd and ldap-utils (apt-get install slapd ldap-utils)")
    workdir = tmp_path / "ldap"
    workdir.mkdir()
    server = Slapd(workdir, seed_directory()).start()
    try:
        yield server
    finally:
        server.stop()


def ldap_settings(server: Slapd, **overrides: Any) -> dict[str, Any]:
    from tests.support.ldap import GROUPS, PEOPLE, ROOT_DN, ROOT_PW, group_dn

    return {
        "url": server.url, "bind_dn": ROOT_DN, "bind_password": ROOT_PW, "user_base": PEOPLE,
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))", "group_base": GROUPS,
        # Spelled in another case and spacing than the directory returns: DNs compare case-insensitively.
        "role_map": {group_dn("admins").upper(): "admin", group_dn("hosts").replace(",", ", "): "host",
                     group_dn("staff"): "member"},
        "default_role": "", "timeout": 2.0, **overrides,
    }


# -- OIDC ------------------------------------------------------------------------------------------

OIDC_ACCOUNTS = {
    "alice": {"email": "alice@example.org", "name": "Alice Admin", "groups": ["Admins", "staff"]},
    "harry": {"email": "harry@example.org", "name": "Harry Host", "groups": ["hosts"]},
    "sam": {"email": "sam@example.org", "name": "Sam Staff", "groups": ["staff"]},
    "outsider": {"email": "out@elsewhere.test", "name": "Out Sider", "groups": ["staff"]},
    "nogroups": {"email": "ng@example.org", "name": "No Groups", "groups": []},
}


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """One real OpenID Connect provider for the session (npm oidc-provider)."""
    require(oidc_provider_available(), "node and tests/js/node_modules (npm ci in tests/js)")
    provider = OidcProvider(tmp_path_factory.mktemp("oidc"), redirect_uris=[OIDC_REDIRECT],
                            accounts=OIDC_ACCOUNTS).start()
    try:
        yield provider
    finally:
        provider.stop()


def oidc_settings(provider: OidcProvider, **overrides: Any) -> dict[str, Any]:
    return {"id": OIDC_PROVIDER_ID, "name": "Test IdP", "issuer": provider.issuer, "client_id": provider.client_id,
            "client_secret": provider.client_secret, "scopes": ["openid", "email", "profile", "groups"],
            "role_map": {"admins": "admin", "hosts": "host", "staff": "member"}, "default_role": "",
            "allowed_domains": ["example.org"], **overrides}
