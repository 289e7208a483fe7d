"""Who is asking: the ``principal`` dependency and role checks.

A request is authenticated by ``Authorization: Bearer <token>`` or by the session cookie. A
cookie-authenticated request that changes state (anything but GET, HEAD, OPTIONS) must carry the
session's CSRF token in ``X-CSRF-Token``. Handlers declare ``principal: Principal`` (401 when
signed out) or ``maybe_principal: Principal | None``.
"""

from __future__ import annotations

import hmac

import msgspec
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

SESSION_COOKIE = "cc_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_RANK = {"guest": 0, "member": 1, "host": 2, "admin": 3}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str
    username: str
    display_name: str
    role: str
    source: str
    session_hash: str
    csrf_token: str
    via: str  # "cookie" or "bearer"
    #: When the session ends at the latest (Unix time).
    expires_at: float = 0.0

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def require_role(principal: Principal, role: str, action: str = "do this") -> None:
    if not principal.at_least(role):
        raise PermissionDeniedException(f"role '{principal.role}' may not {action} (needs '{role}')")


def session_token(request: Request) -> tuple[str | None, str]:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), "bearer"
    return request.cookies.get(SESSION_COOKIE), "cookie"


async def resolve_principal(request: Request) -> Principal | None:
    if "cc_principal" in request.scope:
        return request.scope["cc_principal"]  # type: ignore[return-value]
    services = request.app.state.services
    token, via = session_token(request)
    principal = None
    if token:
        session = await services.sessions.lookup(token)
        if session is not None and session.kind == via:
            row = await services.accounts.repo.get(session.account_id)
            if row is not None and not row["disabled"]:
                principal = Principal(account_id=row["id"], username=row["username"],
                                      display_name=row["display_name"], role=row["role"], source=row["source"],
                                      session_hash=session.token_hash, csrf_token=session.csrf_token, via=via,
                                      expires_at=session.expires_at)
    if principal is not None and via == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
            raise PermissionDeniedException("CSRF token missing or wrong (send it in X-CSRF-Token)")
    request.scope["cc_principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


async def provide_principal(request: Request) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise NotAuthorizedException("sign in first")
    return principal


async def provide_maybe_principal(request: Request) -> Principal | None:
    return await resolve_principal(request)
