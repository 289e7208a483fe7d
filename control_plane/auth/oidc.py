"""OpenID Connect sign-in: the authorization-code flow with PKCE (S256).

One :class:`OidcClient` per ``[[oidc]]`` provider talks to it: the discovery document
(``/.well-known/openid-configuration``, fetched on first use and cached), the authorization URL,
the code exchange at the token endpoint (``client_secret_basic`` with the ``code_verifier``) and
the id_token check (:func:`verify_id_token`: signature with a key from the provider's JWKS,
re-fetched when a token names a key id not seen yet; ``alg`` from an allow-list of asymmetric
algorithms, never ``none`` or ``HS*``; ``iss``, ``aud`` = client id, ``exp``, ``iat`` and the
``nonce``). :func:`account_from_claims` turns the verified claims into an account and role.
The per-sign-in state lives in :mod:`control_plane.auth.oidc_flow`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import msgspec
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException

from ..settings import OidcProviderSettings
from .ldap import check_role_map, role_for_groups

log = logging.getLogger(__name__)

#: Asymmetric signature algorithms accepted for id_tokens (never "none", never HS*).
ALLOWED_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                          "EdDSA"})
DISCOVERY_TTL = 24 * 3600.0
#: A token naming an unknown key re-fetches the JWKS at most this often.
JWKS_MIN_REFRESH = 10.0
LEEWAY = 60


class ProviderUnavailable(HTTPException):
    status_code = 503


class ProviderFailed(HTTPException):
    """The provider answered something this server cannot use."""

    status_code = 502


class IdTokenError(Exception):
    """The id_token is not acceptable; the message says why."""


class UnknownKey(IdTokenError):
    pass


class Metadata(msgspec.Struct, kw_only=True):
    """The parts of the discovery document used here."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_signing_alg_values_supported: list[str] = msgspec.field(default_factory=lambda: ["RS256"])
    code_challenge_methods_supported: list[str] | None = None


class TokenResponse(msgspec.Struct, kw_only=True):
    id_token: str
    token_type: str = "Bearer"


def verify_id_token(token: str, *, keys: list[dict[str, Any]], issuer: str, client_id: str, nonce: str,
                    algorithms: list[str] | frozenset[str] = ALLOWED_ALGS) -> dict[str, Any]:
    """The claims of *token* if it is a valid id_token for *client_id* from *issuer* with *nonce*."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise IdTokenError(f"id_token is not a JWT ({exc})") from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS or alg not in algorithms:
        raise IdTokenError(f"id_token signed with alg {alg!r}, which is not accepted")
    kid = header.get("kid")
    candidates = [k for k in keys if (kid is None or k.get("kid") == kid) and k.get("use", "sig") == "sig"
                  and k.get("alg", alg) == alg and k.get("kty") != "oct"]
    if not candidates:
        raise UnknownKey(f"id_token signed with a key the provider does not publish (kid {kid!r})")
    last: Exception | None = None
    for candidate in candidates:
        try:
            key = jwt.PyJWK(candidate, algorithm=alg)
        except jwt.PyJWTError as exc:
            last = exc
            continue
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[alg], audience=client_id, issuer=issuer, leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]})
            break
        except jwt.InvalidSignatureError as exc:
            last = exc
            continue
        except jwt.PyJWTError as exc:
            raise IdTokenError(f"id_token refused: {exc}") from None
    else:
        raise IdTokenError(f"id_token refused: {last or 'no usable key'}")
    aud = claims["aud"]
    azp = claims.get("azp")
    if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise IdTokenError("id_token refused: it was issued to another client (azp)")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise IdTokenError("id_token refused: the nonce does not match this sign-in")
    if not isinstance(claims["sub"], str) or not claims["sub"] or len(claims["sub"]) > 255:
        raise IdTokenError("id_token refused: sub must be a non-empty string")
    return claims


@dataclass(frozen=True)
class ExternalAccount:
    external_id: str
    username: str
    display_name: str
    email: str | None
    role: str


_NOT_NAME = re.compile(r"[^A-Za-z0-9._@+-]+")


def _clean_name(value: Any) -> str:
    return _NOT_NAME.sub("-", value).strip("-")[:64] if isinstance(value, str) else ""


def account_from_claims(p: OidcProviderSettings, claims: dict[str, Any]) -> ExternalAccount:
    """The account for verified *claims*: names, e-mail and the role mapped from the groups claim."""
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    if email is not None and ("@" not in email or len(email) > 254):
        email = None
    if p.allowed_domains:
        domain = email.rsplit("@", 1)[1].lower() if email else ""
        if claims.get("email_verified") is False:
            raise PermissionDeniedException("your e-mail address is not verified at the provider")
        if domain not in {d.lower().lstrip("@") for d in p.allowed_domains}:
            raise PermissionDeniedException(f"sign-in with {p.name} is limited to addresses in "
                                            f"{', '.join(p.allowed_domains)}")
    raw = claims.get(p.groups_claim) if p.groups_claim else None
    groups = [raw] if isinstance(raw, str) else [g for g in raw if isinstance(g, str)] if isinstance(raw, list) else []
    role = role_for_groups(groups, p.role_map, p.default_role, normalize=lambda g: g.strip().lower())
    if role is None:
        raise PermissionDeniedException(f"your {p.name} account is in none of the groups allowed to sign in here")
    username = (_clean_name(claims.get("preferred_username")) or _clean_name(email)
                or _clean_name(f"{p.id}-{claims['sub']}"))
    name = claims.get("name")
    display = name.strip()[:100] if isinstance(name, str) and name.strip() else username
    return ExternalAccount(external_id=f"{p.id}:{claims['sub']}", username=username, display_name=display,
                           email=email, role=role)


class OidcClient:
    """One provider: discovery, authorization URL, code exchange and id_token verification."""

    def __init__(self, settings: OidcProviderSettings, http: httpx.AsyncClient) -> None:
        check_role_map(settings.role_map, settings.default_role, f"oidc[{settings.id}]")
        self.settings = settings
        self.http = http
        self._metadata: Metadata | None = None
        self._metadata_at = 0.0
        self._keys: list[dict[str, Any]] = []
        self._keys_at = 0.0
        self._lock = asyncio.Lock()

    async def _get_json(self, url: str, what: str) -> bytes:
        try:
            r = await self.http.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("oidc provider unreachable", extra={"provider": self.settings.id, "error": repr(exc)})
            raise ProviderUnavailable(f"{self.settings.name} cannot be reached ({what})") from None
        if r.status_code != 200:
            raise ProviderFailed(f"{self.settings.name} answered {r.status_code} for its {what}")
        return r.content

    async def metadata(self) -> Metadata:
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL:
            return self._metadata
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at >= DISCOVERY_TTL:
                url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    meta = msgspec.json.decode(await self._get_json(url, "discovery document"), type=Metadata)
                except msgspec.ValidationError as exc:
                    raise ProviderFailed(f"{self.settings.name}'s discovery document is unusable: {exc}") from None
                if meta.issuer.rstrip("/") != self.settings.issuer.rstrip("/"):
                    raise ProviderFailed(f"{self.settings.name}'s discovery document names issuer {meta.issuer!r},"
                                         f" not {self.settings.issuer!r}")
                if meta.code_challenge_methods_supported is not None \
                        and "S256" not in meta.code_challenge_methods_supported:
                    raise ProviderFailed(f"{self.settings.name} does not support PKCE with S256")
                self._metadata, self._metadata_at = meta, time.monotonic()
        return self._metadata

    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str) -> str:
        meta = await self.metadata()
        query = urlencode({"response_type": "code", "client_id": self.settings.client_id,
                           "redirect_uri": redirect_uri, "scope": " ".join(self.settings.scopes), "state": state,
                           "nonce": nonce, "code_challenge": code_challenge, "code_challenge_method": "S256"})
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        return f"{meta.authorization_endpoint}{sep}{query}"

    async def exchange(self, *, code: str, code_verifier: str, redirect_uri: str) -> str:
        """Trade the authorization *code* for the id_token (client_secret_basic, PKCE verifier)."""
        meta = await self.metadata()
        s = self.settings
        auth = (quote(s.client_id, safe=""), quote(s.client_secret, safe=""))
        try:
            r = await self.http.post(meta.token_endpoint, auth=auth, headers={"accept": "application/json"},
                                     data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": redirect_uri, "code_verifier": code_verifier})
        except httpx.HTTPError as exc:
            log.warning("oidc token endpoint unreachable", extra={"provider": s.id, "error": repr(exc)})
            raise ProviderUnavailable(f"{s.name} cannot be reached (token endpoint)") from None
        if r.status_code in (400, 401):
            try:
                error = str(r.json().get("error", "invalid_request"))[:64]
            except ValueError:
                error = "invalid_request"
            raise NotAuthorizedException(f"{s.name} refused the sign-in code ({error})")
        if r.status_code != 200:
            raise ProviderFailed(f"{s.name}'s token endpoint answered {r.status_code}")
        try:
            return msgspec.json.decode(r.content, type=TokenResponse).id_token
        except msgspec.DecodeError as exc:
            raise ProviderFailed(f"{s.name}'s token answer has no usable id_token: {exc}") from None

    async def _fetch_keys(self) -> None:
        meta = await self.metadata()
        try:
            jwks = msgspec.json.decode(await self._get_json(meta.jwks_uri, "signing keys"), type=dict[str, Any])
        except msgspec.DecodeError as exc:
            raise ProviderFailed(f"{self.settings.name}'s signing keys are unusable: {exc}") from None
        keys = jwks.get("keys")
        self._keys = [k for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
        self._keys_at = time.monotonic()

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.metadata()
        algs = [a for a in meta.id_token_signing_alg_values_supported if a in ALLOWED_ALGS]
        if not self._keys_at:
            await self._fetch_keys()
        for attempt in (1, 2):
            try:
                return verify_id_token(id_token, keys=self._keys, issuer=meta.issuer,
                                       client_id=self.settings.client_id, nonce=nonce, algorithms=algs)
            except UnknownKey:
                if attempt == 2 or time.monotonic() - self._keys_at < JWKS_MIN_REFRESH:
                    raise
                await self._fetch_keys()  # the provider may have rotated its keys
        raise AssertionError("unreachable")
