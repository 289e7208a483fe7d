"""HTTP: the audit log, for admins (``GET /api/v1/audit``)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import Parameter

from ..auth.principal import Principal, require_role
from ..meetings.service import iso_utc
from .schemas import AuditEntryRead
from .service import AuditLog

_TOKEN = r"^[A-Za-z0-9_.@+-]*$"


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", summary="Admin and moderator actions, newest first (admin)")
    async def list_entries(self, request: Request, principal: Principal,
                           limit: int = Parameter(default=100, ge=1, le=1000),
                           before: str = Parameter(default="", max_length=64, pattern=r"^[0-9a-f]*$",
                                                   description="an entry id: the entries older than it"),
                           actor: str = Parameter(default="", max_length=64, pattern=_TOKEN,
                                                  description="an account id or user name"),
                           action: str = Parameter(default="", max_length=64, pattern=r"^[a-z_.]*$",
                                                   description="an action (meeting.kick) or its noun (meeting)"),
                           meeting: str = Parameter(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$"),
                           ) -> list[AuditEntryRead]:
        require_role(principal, "admin", "read the audit log")
        rows = await AuditLog(request.app.state.services.db).list(limit=limit, before=before, actor=actor,
                                                                  action=action, meeting=meeting)
        return [AuditEntryRead(at_iso=iso_utc(r["at"]) or "", **r) for r in rows]
