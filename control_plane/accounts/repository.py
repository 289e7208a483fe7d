"""SQL for accounts. Every statement is parameterised."""

from __future__ import annotations

import uuid
from typing import Any

from ..db import Connection, Database, Row
from .schemas import AccountRead

_COLUMNS = ("id, username, display_name, email, role, source, external_id, password_hash, disabled,"
            " created_at, updated_at, last_login_at")


def like_literal(text: str) -> str:
    """*text* for a ``LIKE … ESCAPE '\\'`` pattern, matching itself only: its wildcards escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def to_read(row: Row) -> AccountRead:
    return AccountRead(id=row["id"], username=row["username"], display_name=row["display_name"],
                       email=row["email"], role=row["role"], source=row["source"],
                       disabled=bool(row["disabled"]), created_at=row["created_at"],
                       last_login_at=row["last_login_at"])


class AccountRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, account_id: str) -> Row | None:
        return await self.db.fetch_one(f"SELECT {_COLUMNS} FROM accounts WHERE id = ?", (account_id,))

    async def by_username(self, username: str) -> Row | None:
        return await self.db.fetch_one(f"SELECT {_COLUMNS} FROM accounts WHERE username = ?", (username,))

    async def by_external(self, source: str, external_id: str) -> Row | None:
        return await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM accounts WHERE source = ? AND external_id = ?", (source, external_id))

    async def list(self, *, limit: int = 100, offset: int = 0, query: str = "") -> list[Row]:
        """Accounts whose name or display name contains *query* literally (``%`` and ``_`` included)."""
        like = f"%{like_literal(query)}%"
        return await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM accounts WHERE username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\'"
            " ORDER BY username LIMIT ? OFFSET ?", (like, like, limit, offset))

    async def insert(self, conn: Connection, *, username: str, display_name: str, role: str,
                     source: str, email: str | None = None, external_id: str | None = None,
                     password_hash: str | None = None) -> str:
        account_id = uuid.uuid4().hex
        await conn.execute(
            "INSERT INTO accounts (id, username, display_name, email, role, source, external_id, password_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, username, display_name, email, role, source, external_id, password_hash))
        return account_id

    async def update(self, conn: Connection, account_id: str, **fields: Any) -> int:
        if not fields:
            return 0
        allowed = {"username", "display_name", "email", "role", "disabled", "password_hash", "last_login_at",
                   "external_id"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        cur = await conn.execute(
            f"UPDATE accounts SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = :_id",
            {**fields, "_id": account_id})
        return cur.rowcount

    async def touch_login(self, account_id: str) -> None:
        await self.db.execute(
            "UPDATE accounts SET last_login_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?", (account_id,))
