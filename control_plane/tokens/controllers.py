"""HTTP: the public keys that verify join tokens, and their administration (list, rotate)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_200_OK

from .. import audit
from ..auth.principal import Principal, require_role
from .keys import KeyStore, rotate
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


class KeyRead(msgspec.Struct, kw_only=True):
    """A join-token signing key as admins see it (never its private part)."""

    kid: str
    alg: str
    #: When the key was made (from its file name; ISO-8601 UTC), and its file's name in ``keys.dir``.
    created_at: str | None
    file: str
    #: The newest key signs new join tokens; every listed key still verifies tokens it signed.
    current: bool


def _created(path: Path) -> str | None:
    m = re.match(r"key-(\d{8}T\d{6})(\d{6})Z", path.name)
    if m:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").strftime("%Y-%m-%dT%H:%M:%S.") + m.group(2) + "Z"
    with contextlib.suppress(OSError):
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def _key_list(store: KeyStore) -> list[KeyRead]:
    keys = store.keys()
    newest = keys[-1].kid if keys else ""
    return [KeyRead(kid=k.kid, alg="EdDSA", created_at=_created(k.path), file=k.path.name, current=k.kid == newest)
            for k in reversed(keys)]


class KeyController(Controller):
    path = "/api/v1/keys"
    tags = ["tokens"]

    @get("/", summary="Join-token signing keys, newest first (admin)")
    async def list_keys(self, request: Request, principal: Principal) -> list[KeyRead]:
        require_role(principal, "admin", "list signing keys")
        return await asyncio.to_thread(_key_list, request.app.state.services.tokens.keys)

    @post("/rotate", summary="Add a new signing key; older keys stay published (admin)", status_code=HTTP_200_OK)
    async def rotate_keys(self, request: Request, principal: Principal) -> list[KeyRead]:
        require_role(principal, "admin", "rotate signing keys")
        services = request.app.state.services
        store: KeyStore = services.tokens.keys
        try:
            kid = await asyncio.to_thread(rotate, store.directory)
        except OSError as exc:
            raise HTTPException(status_code=503, detail=f"cannot write a key to keys.dir: {exc.strerror or exc}") \
                from None
        await asyncio.to_thread(store.refresh, force=True)
        await audit.record(services.db, audit.actor_of(principal, as_admin=True), "key.rotate", target_kind="key",
                           target_id=kid, details={"published": len(store.keys())})
        return await asyncio.to_thread(_key_list, store)
