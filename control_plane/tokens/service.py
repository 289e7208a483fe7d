"""Issuing join tokens: EdDSA JWTs whose header names the signing key (``kid``).

The claims are :class:`nodes.claims.JoinClaims` (documented in ``docs/tokens.md``). Before a token
is signed its permissions are checked against the account role's ceiling, so a mistake anywhere
upstream cannot hand out a grant the account does not have.
"""

from __future__ import annotations

import secrets
import time

import jwt
import msgspec

from nodes.claims import ALGORITHM, AUDIENCE, JoinClaims, Permissions
from nodes.wire import MeetingPolicy

from .keys import KeyStore
from .permissions import ensure_within


class IssuedToken(msgspec.Struct, kw_only=True, frozen=True):
    token: str
    claims: JoinClaims


class TokenService:
    def __init__(self, keys: KeyStore, *, issuer: str, ttl_minutes: float) -> None:
        self.keys = keys
        self.issuer = issuer
        self.ttl = int(round(ttl_minutes * 60))
        #: Join tokens issued since the start, by meeting role (read by the metrics).
        self.issued: dict[str, int] = {}

    def issue(self, *, account_role: str, sub: str, name: str, meeting_id: str, edge_id: str, role: str,
              perms: Permissions, alt: list[str] | None = None, epoch: int = 0, lobby: bool = False,
              policy: MeetingPolicy | None = None, hidden: bool = False, now: float | None = None) -> IssuedToken:
        """Sign a join token; raises ``PermissionCeilingError`` if *perms* exceed *account_role*."""
        ensure_within(perms, account_role)
        iat = int(now if now is not None else time.time())
        claims = JoinClaims(iss=self.issuer, aud=AUDIENCE, sub=sub, jti=secrets.token_urlsafe(16), iat=iat,
                            nbf=iat, exp=iat + self.ttl, name=name, mid=meeting_id, eid=edge_id,
                            alt=list(alt or []), ep=epoch, role=role, perms=perms, lobby=lobby,
                            pol=policy or MeetingPolicy(), hidden=hidden)
        token = IssuedToken(token=self.sign(claims), claims=claims)
        self.issued[role] = self.issued.get(role, 0) + 1
        return token

    def sign(self, claims: JoinClaims) -> str:
        key = self.keys.current
        return jwt.encode(msgspec.to_builtins(claims), key.private, algorithm=ALGORITHM,
                          headers={"kid": key.kid, "typ": "JWT"})
