"""Server-side sessions.

The browser gets an opaque random token in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure``
when the public URL is https) and, separately, a CSRF token it must echo in ``X-CSRF-Token`` on
every state-changing request made with that cookie. API clients may instead ask for a bearer
token (``POST /api/v1/auth/token``) and send ``Authorization: Bearer …``; bearer requests need no
CSRF token because browsers never attach them by themselves. Only SHA-256 hashes of session
tokens are stored, so a copy of the database does not hand out sessions. Sessions expire after
``ttl`` seconds, or after ``idle`` seconds unused; signing out, disabling the account or changing
its password ends them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from ..db import Database


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    token_hash: str
    account_id: str
    csrf_token: str
    kind: str
    expires_at: float


class SessionStore:
    def __init__(self, db: Database, ttl: float = 12 * 3600, idle: float = 2 * 3600) -> None:
        self.db = db
        self.ttl = ttl
        self.idle = idle

    async def create(self, account_id: str, *, kind: str = "cookie", client_addr: str = "",
                     user_agent: str = "") -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        now = time.time()
        session = Session(_hash(token), account_id, csrf, kind, now + self.ttl)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sessions (id_hash, account_id, csrf_token, kind, created_at, expires_at,"
                " last_seen_at, client_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.token_hash, account_id, csrf, kind, now, session.expires_at, now,
                 client_addr[:100], user_agent[:300]),
            )
            await conn.execute("DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?",
                               (now, now - self.idle))
        return token, session

    async def lookup(self, token: str) -> Session | None:
        """The live session for *token*, refreshing its idle timer; None if unknown or expired."""
        if not token or len(token) > 200:
            return None
        h = _hash(token)
        row = await self.db.fetch_one(
            "SELECT account_id, csrf_token, kind, expires_at, last_seen_at FROM sessions WHERE id_hash = ?", (h,))
        now = time.time()
        if row is None or row["expires_at"] < now or row["last_seen_at"] < now - self.idle:
            return None
        if now - row["last_seen_at"] > min(60.0, self.idle / 4):  # at most once a minute per session
            await self.db.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", (now, h))
        return Session(h, row["account_id"], row["csrf_token"], row["kind"], row["expires_at"])

    async def revoke(self, token_hash: str) -> None:
        await self.db.execute("DELETE FROM sessions WHERE id_hash = ?", (token_hash,))

    async def revoke_account(self, account_id: str, *, keep: str | None = None) -> int:
        """End every session of *account_id* (but *keep*, a token hash)."""
        return await self.db.execute("DELETE FROM sessions WHERE account_id = ? AND id_hash IS NOT ?",
                                     (account_id, keep))
