"""The Standard Webhooks signature (https://www.standardwebhooks.com).

A delivery carries ``webhook-id`` (the message's id, the same on every attempt: the receiver's
idempotency key), ``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``:
``v1,`` and the base64 HMAC-SHA256, keyed with the secret's bytes (``whsec_<base64>``), of
``<id>.<timestamp>.<body>``. A receiver recomputes it, compares in constant time, and refuses a
timestamp too far from its clock (a replay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .settings import secret_key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one attempt (signed now unless *timestamp* is given)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": signature(secret, msg_id, ts, body), "content-type": "application/json"}


def verify(secret: str, msg_headers: dict[str, str], body: bytes, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """Whether *body* with *msg_headers* (lower-case names) was signed with *secret* within
    *tolerance* seconds of *now*: what a receiver does."""
    try:
        msg_id = msg_headers["webhook-id"]
        ts = int(msg_headers["webhook-timestamp"])
        given = msg_headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(expected, sig) for sig in given)
