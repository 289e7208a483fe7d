"""The audit log: who did what, when, on whom — admin and moderator actions, persisted.

:func:`record` writes one entry; it is called from the one place each action is applied (account
changes, meeting commands, recordings, key rotation, edge drain, and the edges' events that report a
moderator's action in the room). ``GET /api/v1/audit`` lists the entries to admins, newest first.
"""

from __future__ import annotations

from .service import Actor, AuditLog, actor_of, record

__all__ = ["Actor", "AuditLog", "actor_of", "record"]
