"""The public keys that verify join tokens, and the verification itself.

Keys come from ``auth.jwks_file`` when it is set, otherwise from the control plane over NATS
(``cc.cp.jwks`` → :class:`nodes.wire.JwksReply`): once NATS is connected (retried until the
control plane answers) and again whenever a token names a key this edge does not know — at most
once per ``auth.refresh_interval`` seconds, so a flood of forged ``kid`` values cannot turn into a
flood of requests. Tokens are always verified locally (:func:`nodes.claims.verify_join_token`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import jwt

from nodes import subjects, wire
from nodes.bus import Bus
from nodes.claims import JoinClaims, KeySet, TokenError, verify_join_token

from .settings import AuthSettings

log = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """The key source could not be read."""


class Keys:
    def __init__(self, settings: AuthSettings, *, edge_id: str, bus: Bus | None = None) -> None:
        self.settings = settings
        self.edge_id = edge_id
        self.bus = bus
        self.keyset = KeySet()
        self.fetches = 0
        self._last_attempt = float("-inf")
        self._inflight: asyncio.Future[bool] | None = None
        self._retry: asyncio.Task[None] | None = None

    # -- loading ----------------------------------------------------------------------------------
    def load_file(self) -> None:
        """Read ``auth.jwks_file`` (raises :class:`KeysUnavailable` naming the file and the problem)."""
        path = Path(self.settings.jwks_file)
        try:
            doc = json.loads(path.read_text())
            self.keyset = KeySet.from_jwks(doc)
        except (OSError, ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
            raise KeysUnavailable(f"{path}: cannot load join-token keys: {exc}") from None
        log.info("join-token keys loaded", extra={"source": str(path), "kids": self.keyset.kids()})

    async def _fetch_nats(self) -> None:
        if self.bus is None or not self.bus.connected:
            raise KeysUnavailable("not connected to NATS")
        msg = await self.bus.nc.request(subjects.JWKS, b"", timeout=2.0)
        reply = wire.jwks_decoder.decode(msg.data)
        if isinstance(reply, wire.ErrorReply):
            raise KeysUnavailable(f"control plane refused: {reply.error} {reply.detail}")
        self.keyset = KeySet.from_jwks({"keys": reply.keys})
        log.info("join-token keys fetched", extra={"source": subjects.JWKS, "kids": self.keyset.kids()})

    async def _load(self) -> None:
        self.fetches += 1
        if self.settings.jwks_file:
            self.load_file()
        else:
            await self._fetch_nats()

    async def start(self) -> None:
        """Load from the file now, or fetch over NATS as soon as it connects."""
        if self.settings.jwks_file:
            self.load_file()
        elif self.bus is not None:
            self.bus.on_connect(self._on_connect)

    async def _on_connect(self, _bus: Bus) -> None:
        # Retried in the background: a missing control plane must not hold up other set-up steps.
        if self._retry is None or self._retry.done():
            self._retry = asyncio.get_running_loop().create_task(self._fetch_until_done(), name="jwks-fetch")

    async def _fetch_until_done(self) -> None:
        delay = 0.2
        while len(self.keyset) == 0:
            if await self.refresh(force=True):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload the keys; True if it worked. Unless *force* (the fetch at start), at most once per
        ``refresh_interval``."""
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        now = time.monotonic()
        if not force:
            if now - self._last_attempt < self.settings.refresh_interval:
                return False
            self._last_attempt = now
        self._inflight = asyncio.get_running_loop().create_future()
        ok = False
        try:
            await self._load()
            ok = True
        except Exception as exc:  # noqa: BLE001 - logged; the old keys stay
            log.warning("join-token keys not refreshed", extra={"error": str(exc)})
        finally:
            self._inflight.set_result(ok)
            self._inflight = None
        return ok

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()

    # -- verifying --------------------------------------------------------------------------------
    async def verify(self, token: str) -> JoinClaims:
        """Verify *token* for this edge; an unknown ``kid`` triggers one (rate-limited) refresh."""
        try:
            return verify_join_token(token, self.keyset, edge_id=self.edge_id, leeway=self.settings.leeway)
        except TokenError as exc:
            if exc.code != "unknown_key" or not await self.refresh():
                raise
        return verify_join_token(token, self.keyset, edge_id=self.edge_id, leeway=self.settings.leeway)
