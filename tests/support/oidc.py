"""A real OpenID Connect provider (npm ``oidc-provider``, ``tests/js/oidc_provider.mjs``) and a
browser stand-in that signs in on it with plain HTTP.

The provider runs on a free loopback port with one static client (client_secret_basic, PKCE
required) and the accounts given; its development login pages accept any password.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from . import process
from .util import free_port

JS = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS / "oidc_provider.mjs"


def oidc_provider_available() -> bool:
    return shutil.which("node") is not None and (JS / "node_modules" / "oidc-provider").is_dir()


class OidcProvider:
    def __init__(self, workdir: Path, *, redirect_uris: list[str], accounts: dict[str, dict[str, Any]],
                 client_id: str = "curious-connect", client_secret: str = "client-secret-0123456789") -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.accounts = accounts
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "oidc-provider.log"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> OidcProvider:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found")
        conf = self.workdir / "oidc-provider.json"
        conf.write_text(json.dumps({"port": self.port, "client_id": self.client_id,
                                    "client_secret": self.client_secret, "redirect_uris": self.redirect_uris,
                                    "accounts": self.accounts}))
        self.proc = process.spawn([node, str(SCRIPT), str(conf)], self.log_path, cwd=JS)
        process.wait_until_up(self.proc, "oidc-provider", self.log_path, self._answers, timeout)
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        process.stop(self.proc)


@dataclass
class Redirected:
    """Where the provider finally sent the browser back to the client."""

    url: str

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + ("?" + parts.query if parts.query else "")

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


async def browser_login(authorization_url: str, login: str, *, redirect_prefix: str, consent: bool = True,
                        browser: httpx.AsyncClient | None = None) -> Redirected:
    """Do what a person does in the browser: open the authorization URL, type *login* (and any
    password) on the provider's login page, then accept (or, with ``consent=False``, abort) the
    consent page. Returns the redirect back to *redirect_prefix* (with ``code`` or ``error``)."""
    own = browser is None
    client = browser or httpx.AsyncClient(follow_redirects=False, timeout=10)
    try:
        url = authorization_url
        for _ in range(12):
            if url.startswith(redirect_prefix):
                return Redirected(url)
            r = await client.get(url)
            if r.status_code in (302, 303) and "location" in r.headers:
                url = urljoin(url, r.headers["location"])
                continue
            if r.status_code != 200 or "/interaction/" not in url:
                raise AssertionError(f"unexpected answer from the provider at {url}: {r.status_code} {r.text[:500]}")
            if 'name="login"' in r.text:
                form = {"prompt": "login", "login": login, "password": "any password"}
            elif consent:
                form = {"prompt": "consent"}
            else:
                abort = await client.get(url.rstrip("/") + "/abort")
                url = urljoin(url, abort.headers["location"])
                continue
            posted = await client.post(url, data=form)
            if posted.status_code not in (302, 303):
                raise AssertionError(f"the provider refused the form at {url}: {posted.status_code} {posted.text[:500]}")
            url = urljoin(url, posted.headers["location"])
        raise AssertionError("too many redirects at the provider")
    finally:
        if own:
            await client.aclose()
