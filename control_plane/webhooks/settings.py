"""``[webhooks]`` and its ``[[webhooks.endpoints]]`` (annotated example: ``configs/control_plane.toml``)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

import msgspec

from nodes.settings import Base, resolve_secret

#: Every event type an endpoint may receive.
EVENT_TYPES = ("meeting.started", "meeting.ended", "participant.joined", "participant.left", "recording.ready")


class WebhookEndpointSettings(Base, kw_only=True):
    """One endpoint: where events are POSTed and the secret they are signed with."""

    #: http:// or https:// URL the events are POSTed to.
    url: str
    #: Name in the delivery log (``?endpoint=``); default: the URL. Unique among the endpoints.
    name: str = ""
    #: Signing secret, ``whsec_`` followed by base64 of 24 to 64 random bytes (Standard Webhooks):
    #: inline, from a file (``secret_file``) or a variable (``secret_env``).
    secret: str = ""
    secret_file: str = ""
    secret_env: str = ""
    #: Event types sent to this endpoint (empty: all of them).
    events: list[str] = msgspec.field(default_factory=list)
    #: Seconds one attempt may take (connecting, sending, the answer) before it counts as failed.
    timeout: float = 5.0

    def __post_init__(self) -> None:
        resolve_secret(self, "secret")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"`url`: {self.url!r} is not an http:// or https:// URL")
        if not self.secret:
            raise ValueError("`secret`: required (or `secret_file` / `secret_env`): whsec_ and base64 of random"
                             " bytes, e.g. from `python -c \"import base64,os;print('whsec_'+"
                             "base64.b64encode(os.urandom(32)).decode())\"`")
        secret_key(self.secret)   # raises ValueError with the reason
        unknown = sorted(set(self.events) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"`events`: unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
        if not 0 < self.timeout <= 300:
            raise ValueError("`timeout`: must be more than 0 and at most 300 seconds")
        if not self.name:
            self.name = self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookSettings(Base, kw_only=True):
    """Delivery of events to HTTP endpoints (docs/operations.md, Webhooks)."""

    endpoints: list[WebhookEndpointSettings] = msgspec.field(default_factory=list)
    #: Attempts per event and endpoint before the delivery is marked ``failed``.
    max_attempts: int = 8
    #: Wait before the second attempt, seconds; doubled after each failed attempt (with up to 20 %
    #: jitter), at most ``backoff_max``.
    backoff_base: float = 5.0
    backoff_max: float = 3600.0
    #: Days delivered and failed entries stay in the delivery log (0: forever).
    log_days: float = 30.0

    def __post_init__(self) -> None:
        names = [e.name for e in self.endpoints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"`endpoints`: more than one endpoint named {', '.join(dupes)} (set `name`)")
        if self.max_attempts < 1:
            raise ValueError("`max_attempts`: must be at least 1")
        if self.backoff_base <= 0 or self.backoff_max < self.backoff_base:
            raise ValueError("`backoff_base` must be more than 0 and `backoff_max` at least `backoff_base`")
        if self.log_days < 0:
            raise ValueError("`log_days`: must not be negative")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (ValueError when it is not one)."""
    if not secret.startswith("whsec_"):
        raise ValueError("`secret`: must start with whsec_ (Standard Webhooks: whsec_ and base64 of random bytes)")
    try:
        key = base64.b64decode(secret[6:], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("`secret`: what follows whsec_ is not base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"`secret`: {len(key)} bytes of key; use 24 to 64 random bytes")
    return key
