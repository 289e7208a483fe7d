"""Join tokens: the claims a participant carries to an edge, and how an edge verifies them.

A join token is a JWT signed by the control plane with **EdDSA (Ed25519)**; its header names the
signing key (``kid``) so keys rotate without downtime. Edges hold only public keys (a JWKS) and
verify tokens locally, without asking anyone. The claims are documented in ``docs/tokens.md``.

Verification refuses: any algorithm but EdDSA (so ``alg: none`` and HS256-signed-with-the-public-
key both fail), an unknown ``kid``, a bad signature, a token past ``exp`` or before ``nbf``, the
wrong audience, a missing claim, and a token for another edge.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import msgspec
from jwt.types import Options

from .wire import MeetingPolicy

#: The ``aud`` of every join token.
AUDIENCE = "cc-edge"
ALGORITHM = "EdDSA"
ROLES = ("host", "moderator", "member", "guest")


class Permissions(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """What the participant may do in the meeting."""

    publish_audio: bool = False
    publish_video: bool = False
    publish_screen: bool = False
    subscribe: bool = True
    chat: bool = False
    #: Kick, mute others, admit from the lobby, end for all, promote.
    moderate: bool = False
    record: bool = False

    def granted(self) -> set[str]:
        return {f for f in self.__struct_fields__ if getattr(self, f)}

    def within(self, other: Permissions) -> bool:
        """True if every grant here is also granted by *other*."""
        return self.granted() <= other.granted()


class JoinClaims(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The payload of a join token (registered JWT claims plus ours)."""

    iss: str
    aud: str = AUDIENCE
    #: Account id; guests get ``guest:<random>``.
    sub: str
    #: Unique token id.
    jti: str
    iat: int
    nbf: int = 0
    exp: int
    #: Display name shown to the others.
    name: str
    #: Meeting id.
    mid: str
    #: Edge the token is for.
    eid: str
    #: Other edges of the same region that accept this token, for failover.
    alt: list[str] = msgspec.field(default_factory=list)
    #: Placement epoch of the meeting when the token was issued.
    ep: int = 0
    role: str = "member"
    perms: Permissions = msgspec.field(default_factory=Permissions)
    #: True when the participant must wait in the lobby until a moderator admits them.
    lobby: bool = False
    #: The meeting's entry policy (lock, participant limit, version) when the token was issued; the
    #: edge enforces the newest it knows (a newer one comes with commands and the mesh).
    pol: MeetingPolicy = msgspec.field(default_factory=MeetingPolicy)
    #: A recorder: it receives every track but is in no roster, is announced to nobody, takes no
    #: seat and never publishes. Honoured only with the ``record`` grant and no publish grant.
    hidden: bool = False


class TokenError(Exception):
    """A join token was refused; ``code`` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class KeySet:
    """Public keys by ``kid``, from a JWKS document (RFC 7517)."""

    def __init__(self, keys: dict[str, Any] | None = None) -> None:
        self._keys: dict[str, Any] = dict(keys or {})

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any] | list[dict[str, Any]]) -> KeySet:
        entries = jwks["keys"] if isinstance(jwks, dict) else jwks
        keys: dict[str, Any] = {}
        for entry in entries:
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or "kid" not in entry:
                continue
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        return cls(keys)

    def __contains__(self, kid: str) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, kid: str) -> Any:
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        return sorted(self._keys)


_claims_decoder_opts: Options = {"require": ["exp", "iat", "jti", "sub", "aud", "iss"]}


def verify_join_token(token: str, keys: KeySet, *, edge_id: str | None = None, leeway: float = 5.0,
                      now: float | None = None) -> JoinClaims:
    """Verify *token* with *keys*; return its claims or raise :class:`TokenError`.

    With *edge_id*, the token must name this edge (``eid``) or list it in ``alt``.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        raise TokenError("malformed", "not a JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed", f"unreadable token header: {exc}") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("bad_algorithm", f"algorithm {header.get('alg')!r} is not accepted (EdDSA only)")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("unknown_key", f"no public key with kid {kid!r}")
    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, leeway=leeway,
                             options={**_claims_decoder_opts, "verify_exp": now is None,
                                      "verify_nbf": now is None, "verify_iat": False})
    except jwt.ExpiredSignatureError:
        raise TokenError("expired", "token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("not_yet_valid", "token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad_signature", "token signature does not verify") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong_audience", "token is not for edges") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("malformed", str(exc)) from None
    except jwt.DecodeError as exc:  # after InvalidSignatureError, which is one
        raise TokenError("malformed", f"unreadable token: {exc}") from None
    except jwt.PyJWTError as exc:
        raise TokenError("invalid", f"token refused: {exc}") from None
    if now is not None:
        if payload["exp"] + leeway < now:
            raise TokenError("expired", "token has expired")
        if payload.get("nbf", 0) - leeway > now:
            raise TokenError("not_yet_valid", "token is not valid yet")
    try:
        claims = msgspec.convert(payload, JoinClaims)
    except msgspec.ValidationError as exc:
        raise TokenError("malformed", f"bad claims: {exc}") from None
    if claims.role not in ROLES:
        raise TokenError("malformed", f"unknown role {claims.role!r}")
    if edge_id is not None and claims.eid != edge_id and edge_id not in claims.alt:
        raise TokenError("wrong_edge", "token is for another edge")
    return claims


def unix_now() -> int:
    return int(time.time())
