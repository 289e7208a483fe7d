"""Per-participant ICE servers: the public STUN servers plus short-lived TURN credentials.

The TURN server (coturn with ``use-auth-secret``) and the edge share one secret. For each
participant the edge derives a credential that coturn checks without asking anyone — the
"TURN REST API" scheme (draft-uberti-behave-turn-rest-00, coturn's ``static-auth-secret``)::

    username   = "<expiry, unix seconds>:<participant id>"
    credential = base64(HMAC-SHA1(secret, username))

coturn refuses the username once the expiry has passed, so a credential copied out of a page is
worth little, and the secret never leaves the edge. See ``docs/turn.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any


def turn_credential(secret: str, participant_id: str, expiry: int) -> tuple[str, str]:
    """(username, credential) valid until *expiry* (unix seconds) for *participant_id*."""
    username = f"{expiry}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def public_servers(servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edge's own ICE servers that may be handed to clients: those carrying no credential."""
    return [dict(s) for s in servers if not s.get("credential") and not s.get("username")]


class IceServers:
    """What ``joined.ice_servers`` says to one participant."""

    def __init__(self, static: list[dict[str, Any]] | None = None, *, turn_urls: list[str] | None = None,
                 secret: str = "", ttl: int = 6 * 3600, clock: Callable[[], float] = time.time) -> None:
        if turn_urls and not secret:
            raise ValueError("TURN urls need the shared secret")
        self.static = public_servers(static or [])
        self.turn_urls = list(turn_urls or [])
        self._secret = secret
        self.ttl = ttl
        self.clock = clock

    def __repr__(self) -> str:  # never the secret
        return f"IceServers(static={self.static!r}, turn_urls={self.turn_urls!r}, ttl={self.ttl})"

    def __call__(self, participant_id: str) -> list[dict[str, Any]]:
        servers = [dict(s) for s in self.static]
        if self.turn_urls:
            username, credential = turn_credential(self._secret, participant_id, int(self.clock()) + self.ttl)
            servers.append({"urls": list(self.turn_urls), "username": username, "credential": credential})
        return servers
