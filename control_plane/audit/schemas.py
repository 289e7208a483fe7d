"""What ``GET /api/v1/audit`` answers."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class AuditEntryRead(msgspec.Struct, kw_only=True):
    id: str
    #: When, Unix time, and the same as ISO-8601 UTC.
    at: float
    at_iso: str
    #: Who: an account's id and name ("" for the system or an actor the event did not name).
    actor_id: str
    actor_username: str
    actor_kind: Literal["admin", "moderator", "system"]
    #: What: ``<noun>.<verb>``, e.g. ``account.create``, ``meeting.kick``, ``key.rotate``.
    action: str
    #: On whom: ``account``, ``meeting``, ``participant``, ``recording``, ``key`` or ``edge`` and its id.
    target_kind: str
    target_id: str
    meeting_id: str
    details: dict[str, Any]
