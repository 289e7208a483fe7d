"""HTTP: the public keys that verify join tokens."""

from __future__ import annotations

import msgspec
from litestar import Request, get

from .schemas import JwksRead

_CACHE = {"Cache-Control": "public, max-age=60"}


def _jwks(request: Request) -> JwksRead:
    return msgspec.convert(request.app.state.services.tokens.keys.jwks(), JwksRead)


@get("/api/v1/jwks", summary="Join-token public keys (JWKS)", tags=["tokens"], response_headers=_CACHE)
async def jwks(request: Request) -> JwksRead:
    return _jwks(request)


@get("/.well-known/jwks.json", summary="Join-token public keys (JWKS)", tags=["tokens"], include_in_schema=False,
     response_headers=_CACHE)
async def well_known_jwks(request: Request) -> JwksRead:
    return _jwks(request)
