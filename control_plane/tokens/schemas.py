"""The JWKS document served over HTTP (RFC 7517)."""

from __future__ import annotations

import msgspec


class Jwk(msgspec.Struct, kw_only=True):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str = "EdDSA"
    use: str = "sig"


class JwksRead(msgspec.Struct, kw_only=True):
    keys: list[Jwk]
