"""Writing and reading audit entries (table ``audit_log``, migration 0016).

An entry's id is its time in microseconds (hex, fixed width) followed by random digits, so ids sort
as the entries were written: "newest first" is ``ORDER BY id DESC`` and ``before=<id>`` pages on.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from ..db import Connection, Database

log = logging.getLogger(__name__)

ACTOR_KINDS = ("admin", "moderator", "system")


@dataclass(frozen=True)
class Actor:
    """Who acted: an account (id and name) as an admin or a meeting's moderator, or the system."""

    kind: str
    account_id: str = ""
    username: str = ""


SYSTEM = Actor("system")


def actor_of(principal: Any, *, as_admin: bool = False) -> Actor:
    """The actor for a signed-in *principal*: ``admin`` when its role is admin (or *as_admin*: an
    action only admins may do), else ``moderator`` (a meeting's owner or co-host)."""
    kind = "admin" if as_admin or getattr(principal, "role", "") == "admin" else "moderator"
    return Actor(kind, principal.account_id, principal.username)


def new_entry_id(at: float) -> str:
    return f"{int(at * 1_000_000):014x}{secrets.token_hex(5)}"


_INSERT = ("INSERT INTO audit_log (id, at, actor_id, actor_username, actor_kind, action, target_kind, target_id,"
           " meeting_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


async def record(db: Database | None, actor: Actor, action: str, *, target_kind: str = "", target_id: str = "",
                 meeting_id: str = "", details: dict[str, Any] | None = None, conn: Connection | None = None,
                 at: float | None = None) -> None:
    """Write one entry: in *conn*'s transaction when given (the entry stands or falls with the
    change), else in its own. *action* is ``<noun>.<verb>`` (``account.create``, ``meeting.kick``)."""
    if actor.kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor.kind!r}")
    when = time.time() if at is None else at
    params = (new_entry_id(when), when, actor.account_id, actor.username[:64], actor.kind, action, target_kind,
              target_id[:200], meeting_id, json.dumps(details or {}, separators=(",", ":"), sort_keys=True))
    if conn is not None:
        await conn.execute(_INSERT, params)
    else:
        assert db is not None
        await db.execute(_INSERT, params)
    log.info("audit", extra={"action": action, "actor": actor.username or actor.kind, "target_kind": target_kind,
                             "target_id": target_id, "meeting_id": meeting_id})


class AuditLog:
    """Reading the log (admins, ``GET /api/v1/audit``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, *, limit: int = 100, before: str = "", actor: str = "", action: str = "",
                   meeting: str = "") -> list[dict[str, Any]]:
        """Entries newest first; *before* an entry id (the next page), *actor* an account id or
        name, *action* an exact action or a noun (``meeting`` matches ``meeting.*``)."""
        where, params = [], []
        if before:
            where.append("id < ?")
            params.append(before)
        if actor:
            where.append("(actor_id = ? OR actor_username = ?)")
            params += [actor, actor]
        if action:
            if "." in action:
                where.append("action = ?")
                params.append(action)
            else:
                where.append("(action = ? OR action LIKE ?)")
                params += [action, action.replace("%", "").replace("_", "") + ".%"]
        if meeting:
            where.append("meeting_id = ?")
            params.append(meeting)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self.db.fetch_all(sql, tuple(params))
        return [_read(r) for r in rows]


def _read(row: Any) -> dict[str, Any]:
    try:
        details = json.loads(row["details"] or "{}")
    except ValueError:
        details = {}
    return {"id": row["id"], "at": row["at"], "actor_id": row["actor_id"], "actor_username": row["actor_username"],
            "actor_kind": row["actor_kind"], "action": row["action"], "target_kind": row["target_kind"],
            "target_id": row["target_id"], "meeting_id": row["meeting_id"], "details": details}
