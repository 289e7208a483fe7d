"""Account rules: registration, local sign-in, password changes, admin changes, external accounts."""

from __future__ import annotations

import logging

from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException

from .. import audit
from ..auth.sessions import SessionStore
from ..db import Connection, Database
from ..errors import FieldError
from .passwords import generate_password, hash_password_async, verify_password_async
from .repository import AccountRepository, to_read
from .schemas import AccountAdminCreate, AccountCreate, AccountRead, AccountUpdate, AccountWithPassword

log = logging.getLogger(__name__)


class AccountService:
    def __init__(self, db: Database, sessions: SessionStore, *, allow_registration: bool,
                 default_role: str) -> None:
        self.db = db
        self.repo = AccountRepository(db)
        self.sessions = sessions
        self.allow_registration = allow_registration
        self.default_role = default_role

    async def register(self, data: AccountCreate) -> AccountRead:
        if not self.allow_registration:
            raise PermissionDeniedException("registration is switched off on this server")
        pw_hash = await hash_password_async(data.password)
        async with self.db.transaction() as conn:
            account_id = await self._insert_local(conn, data, self.default_role, pw_hash)
        log.info("account registered", extra={"account_id": account_id})
        return to_read(await self.repo.get(account_id))

    async def _insert_local(self, conn: Connection, data: AccountCreate | AccountAdminCreate, role: str,
                            pw_hash: str) -> str:
        """A local account named as *data* says (409 when the name is taken); its id."""
        cur = await conn.execute("SELECT 1 FROM accounts WHERE username = ?", (data.username,))
        if await cur.fetchone():
            raise FieldError("username", "is already taken", status_code=409)
        return await self.repo.insert(conn, username=data.username, display_name=data.display_name or data.username,
                                      email=data.email, role=role, source="local", password_hash=pw_hash)

    async def authenticate_local(self, username: str, password: str) -> AccountRead:
        """The local account for *username* if *password* is right; the same error otherwise."""
        row = await self.repo.by_username(username)
        pw_hash = row["password_hash"] if row is not None and row["source"] == "local" else None
        ok = await verify_password_async(pw_hash, password)  # costs the same when the user is unknown
        if not ok or row is None:
            raise NotAuthorizedException("wrong user name or password")
        if row["disabled"]:
            raise PermissionDeniedException("this account is disabled")
        await self.repo.touch_login(row["id"])
        return to_read(await self.repo.get(row["id"]))

    async def change_password(self, account_id: str, current: str, new: str, *, keep_session: str) -> None:
        row = await self.repo.get(account_id)
        if row is None or row["source"] != "local":
            raise FieldError("current_password", "this account signs in through its directory or provider")
        if not await verify_password_async(row["password_hash"], current):
            raise FieldError("current_password", "is wrong", status_code=403)
        pw_hash = await hash_password_async(new)
        async with self.db.transaction() as conn:
            await self.repo.update(conn, account_id, password_hash=pw_hash)
        await self.sessions.revoke_account(account_id, keep=keep_session)

    async def get(self, account_id: str) -> AccountRead:
        row = await self.repo.get(account_id)
        if row is None:
            raise NotFoundException("no such account")
        return to_read(row)

    async def list(self, *, limit: int, offset: int, query: str) -> list[AccountRead]:
        return [to_read(r) for r in await self.repo.list(limit=limit, offset=offset, query=query)]

    async def admin_update(self, account_id: str, data: AccountUpdate, *, by: str,
                           actor: audit.Actor | None = None) -> AccountRead:
        fields = {k: getattr(data, k) for k in ("role", "disabled", "display_name") if getattr(data, k) is not None}
        if account_id == by and (fields.get("disabled") or fields.get("role", "admin") != "admin"):
            raise FieldError("role" if "role" in fields else "disabled", "admins cannot demote or disable themselves")
        if "disabled" in fields:
            fields["disabled"] = int(fields["disabled"])
        actor = actor or audit.Actor("admin", by)
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT username, role, disabled, display_name FROM accounts WHERE id = ?",
                                     (account_id,))
            before = await cur.fetchone()
            if before is None or not await self.repo.update(conn, account_id, **fields):
                raise NotFoundException("no such account")
            for action, key in (("account.role", "role"), ("account.rename", "display_name")):
                if key in fields and fields[key] != before[key]:
                    await audit.record(None, actor, action, target_kind="account", target_id=account_id, conn=conn,
                                       details={"username": before["username"], key: fields[key],
                                                "was": before[key]})
            if "disabled" in fields and bool(fields["disabled"]) != bool(before["disabled"]):
                await audit.record(None, actor, "account.disable" if fields["disabled"] else "account.enable",
                                   target_kind="account", target_id=account_id, conn=conn,
                                   details={"username": before["username"]})
        if fields.get("disabled"):
            await self.sessions.revoke_account(account_id)
        log.info("account changed by admin", extra={"account_id": account_id, "by": by, "fields": sorted(fields)})
        return await self.get(account_id)

    async def admin_create(self, data: AccountAdminCreate, *, actor: audit.Actor) -> AccountWithPassword:
        """A local account made by an admin (registration need not be on)."""
        generated = None if data.password else generate_password()
        pw_hash = await hash_password_async(data.password or generated or "")
        async with self.db.transaction() as conn:
            account_id = await self._insert_local(conn, data, data.role, pw_hash)
            await audit.record(None, actor, "account.create", target_kind="account", target_id=account_id, conn=conn,
                               details={"username": data.username, "role": data.role})
        log.info("account created by admin", extra={"account_id": account_id, "by": actor.account_id})
        return AccountWithPassword(account=to_read(await self.repo.get(account_id)), password=generated)

    async def reset_password(self, account_id: str, password: str | None, *,
                             actor: audit.Actor) -> AccountWithPassword:
        """Set a local account's password (generated when None); every session of it ends."""
        row = await self.repo.get(account_id)
        if row is None:
            raise NotFoundException("no such account")
        if row["source"] != "local":
            raise FieldError("password", f"this account signs in through {row['source']}, not with a password here",
                             status_code=409)
        generated = None if password else generate_password()
        pw_hash = await hash_password_async(password or generated or "")
        async with self.db.transaction() as conn:
            await self.repo.update(conn, account_id, password_hash=pw_hash)
            await audit.record(None, actor, "account.password_reset", target_kind="account", target_id=account_id,
                               conn=conn, details={"username": row["username"], "generated": generated is not None})
        await self.sessions.revoke_account(account_id)
        log.info("password reset by admin", extra={"account_id": account_id, "by": actor.account_id})
        return AccountWithPassword(account=to_read(await self.repo.get(account_id)), password=generated)

    async def upsert_external(self, *, source: str, external_id: str, username: str, display_name: str,
                              email: str | None, role: str) -> AccountRead:
        """Create or refresh an LDAP / OIDC account at sign-in; the directory's role wins."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("SELECT id, disabled FROM accounts WHERE source = ? AND external_id = ?",
                                     (source, external_id))
            row = await cur.fetchone()
            if row is not None:
                if row["disabled"]:
                    raise PermissionDeniedException("this account is disabled")
                await self.repo.update(conn, row["id"], display_name=display_name, email=email, role=role)
                account_id = row["id"]
            else:
                name = await self._free_username(conn, username, source)
                account_id = await self.repo.insert(conn, username=name, display_name=display_name, email=email,
                                                    role=role, source=source, external_id=external_id)
        await self.repo.touch_login(account_id)
        return await self.get(account_id)

    @staticmethod
    async def _free_username(conn, username: str, source: str) -> str:  # noqa: ANN001
        """*username*, or — when another account has it — ``name@source``, ``name@source-2``, …"""
        for n in range(1, 20):
            name = username if n == 1 else f"{username}@{source}" if n == 2 else f"{username}@{source}-{n - 1}"
            cur = await conn.execute("SELECT 1 FROM accounts WHERE username = ?", (name,))
            if await cur.fetchone() is None:
                return name
        raise FieldError("username", f"no free account name for {username!r}", status_code=409)
