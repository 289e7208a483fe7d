"""The OpenID Connect sign-in from start to finish, for every configured provider.

``start`` makes a fresh ``state``, ``nonce`` and PKCE ``code_verifier``, keeps them server-side
(table ``oidc_states``, about ten minutes, only hashes of the state and of the browser's
binding cookie) and returns the provider's authorization URL. Sign-ins in progress are capped
per client address (429 with ``Retry-After``) and in all (503), and expired ones are deleted at
every start, so one client cannot fill the table and lock everyone else out. ``finish`` takes the state once
(a replay finds nothing), checks it was started by the same browser (the ``cc_oidc`` HttpOnly
cookie), exchanges the code, verifies the id_token and creates or refreshes the account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, TooManyRequestsException

from ..accounts.schemas import AccountRead
from ..accounts.service import AccountService
from ..db import Database
from ..errors import FieldError
from ..settings import OidcProviderSettings
from .oidc import IdTokenError, OidcClient, account_from_claims
from .ratelimit import address_key

log = logging.getLogger(__name__)

BROWSER_COOKIE = "cc_oidc"
STATE_TTL = 600.0
#: Sign-ins in progress at once (all browsers); more are refused until some finish or expire.
MAX_PENDING = 10_000
#: Sign-ins in progress at once from one client address (IPv6: one /64).
MAX_PENDING_PER_CLIENT = 30


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_next(value: str | None) -> str:
    """*value* if it is a path on this site ("/meetings/x?y"), else "/" (no open redirects)."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def browser_secret(cookie: str | None) -> str:
    """The browser's binding secret: the one it already holds, or a new one."""
    if cookie and 32 <= len(cookie) <= 64 and all(c.isalnum() or c in "-_" for c in cookie):
        return cookie
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Pending:
    provider: str
    browser_hash: str
    nonce: str
    code_verifier: str
    next_path: str
    expires_at: float


class StateStore:
    def __init__(self, db: Database, *, ttl: float = STATE_TTL, max_pending: int = MAX_PENDING,
                 per_client: int = MAX_PENDING_PER_CLIENT, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.ttl = ttl
        self.max_pending = max_pending
        self.per_client = per_client
        #: Wall-clock seconds (the rows outlive a restart).
        self.clock = clock

    async def put(self, state: str, pending: Pending, client: str) -> None:
        """Remember a sign-in started by *client*; 429 past its cap, 503 past the cap for all."""
        now, key = self.clock(), address_key(client)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM oidc_states WHERE expires_at < ?", (now,))
            cur = await conn.execute("SELECT COUNT(*), MIN(expires_at) FROM oidc_states WHERE client_key = ?", (key,))
            mine, first_expiry = await cur.fetchone()
            if mine >= self.per_client:
                retry = max(1, int(first_expiry - now) + 1)
                log.info("oidc sign-ins in progress capped for a client",
                            extra={"client": key, "pending": mine, "limit": self.per_client})
                raise TooManyRequestsException(
                    f"too many sign-ins in progress from your address ({mine}); finish one or try again in {retry} s",
                    headers={"Retry-After": str(retry)})
            cur = await conn.execute("SELECT COUNT(*) FROM oidc_states")
            if (await cur.fetchone())[0] >= self.max_pending:
                log.warning("oidc sign-ins in progress capped for everyone", extra={"limit": self.max_pending})
                raise HTTPException(status_code=503, detail="too many sign-ins in progress; try again in a minute")
            await conn.execute(
                "INSERT INTO oidc_states (state_hash, browser_hash, provider, nonce, code_verifier, next_path,"
                " created_at, expires_at, client_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_hash(state), pending.browser_hash, pending.provider, pending.nonce, pending.code_verifier,
                 pending.next_path, now, now + self.ttl, key))

    async def take(self, state: str) -> Pending | None:
        """The sign-in started with *state*, removed so it can be used only once."""
        h = _hash(state)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "SELECT provider, browser_hash, nonce, code_verifier, next_path, expires_at FROM oidc_states"
                " WHERE state_hash = ?", (h,))
            row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute("DELETE FROM oidc_states WHERE state_hash = ?", (h,))
        return Pending(row["provider"], row["browser_hash"], row["nonce"], row["code_verifier"], row["next_path"],
                       row["expires_at"])


class OidcLogin:
    """What ``services.extra["oidc"]`` holds: every provider and the sign-ins in progress."""

    def __init__(self, providers: list[OidcProviderSettings], *, db: Database, accounts: AccountService,
                 public_url: str, http: httpx.AsyncClient | None = None, ttl: float = STATE_TTL,
                 max_pending: int = MAX_PENDING, per_client: int = MAX_PENDING_PER_CLIENT) -> None:
        ids = [p.id for p in providers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"oidc: provider ids must be unique, got {ids}")
        self.http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.clients = {p.id: OidcClient(p, self.http) for p in providers}
        self.states = StateStore(db, ttl=ttl, max_pending=max_pending, per_client=per_client)
        self.accounts = accounts
        self.public_url = public_url.rstrip("/")

    def public_list(self) -> list[dict[str, str]]:
        return [{"id": c.settings.id, "name": c.settings.name, "start_url": f"/api/v1/auth/oidc/{c.settings.id}/start"}
                for c in self.clients.values()]

    def client(self, provider: str) -> OidcClient:
        client = self.clients.get(provider)
        if client is None:
            raise NotFoundException(f"no sign-in provider '{provider[:64]}' is configured here")
        return client

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url}/api/v1/auth/oidc/{provider}/callback"

    async def start(self, provider: str, next_path: str | None, browser: str, address: str) -> str:
        """The authorization URL to send the browser to; the sign-in is remembered for ``states.ttl``."""
        client = self.client(provider)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        url = await client.authorization_url(redirect_uri=self.redirect_uri(provider), state=state, nonce=nonce,
                                             code_challenge=pkce_challenge(verifier))
        await self.states.put(state, Pending(provider, _hash(browser), nonce, verifier, safe_next(next_path),
                                             self.states.clock() + self.states.ttl), address)
        return url

    async def finish(self, provider: str, *, code: str | None, state: str | None, error: str | None,
                     error_description: str | None, iss: str | None, browser: str | None) -> tuple[AccountRead, str]:
        """The signed-in account and where to send the browser next; refusals say what was wrong."""
        client = self.client(provider)
        name = client.settings.name
        pending = await self.states.take(state) if state else None
        if error:
            detail = f": {error_description[:200]}" if error_description else ""
            raise NotAuthorizedException(f"sign-in at {name} did not complete ({error[:64]}{detail})")
        if not state:
            raise FieldError("state", "is missing")
        if pending is None:
            raise FieldError("state", "is unknown or was already used; start the sign-in again")
        if pending.provider != provider:
            raise FieldError("state", "belongs to a sign-in with another provider")
        if pending.expires_at < self.states.clock():
            raise FieldError("state", "has expired: the sign-in took too long; start it again")
        if not browser or not hmac.compare_digest(_hash(browser), pending.browser_hash):
            raise FieldError("state", "was issued to another browser; start the sign-in again here")
        meta = await client.metadata()
        if iss is not None and iss != meta.issuer:
            raise FieldError("iss", f"names issuer {iss[:200]!r}, not {name}'s")
        if not code:
            raise FieldError("code", "is missing")
        id_token = await client.exchange(code=code, code_verifier=pending.code_verifier,
                                         redirect_uri=self.redirect_uri(provider))
        try:
            claims = await client.verify(id_token, pending.nonce)
        except IdTokenError as exc:
            log.warning("oidc id_token refused", extra={"provider": provider, "reason": str(exc)})
            raise NotAuthorizedException(f"{name}: {exc}") from None
        ext = account_from_claims(client.settings, claims)
        account = await self.accounts.upsert_external(source="oidc", external_id=ext.external_id,
                                                      username=ext.username, display_name=ext.display_name,
                                                      email=ext.email, role=ext.role)
        log.info("oidc sign-in", extra={"provider": provider, "account_id": account.id, "role": ext.role})
        return account, pending.next_path

    async def close(self) -> None:
        await self.http.aclose()
