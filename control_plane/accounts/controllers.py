"""HTTP: sign-in and sessions (``/api/v1/auth``) and account administration (``/api/v1/accounts``)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import Cookie
from litestar.exceptions import ClientException, NotAuthorizedException
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from .. import audit
from ..auth.principal import SESSION_COOKIE, Principal, require_role
from ..clients import client_address
from ..metrics import SignIn
from ..services import Services
from .schemas import (
    AccountAdminCreate,
    AccountCreate,
    AccountRead,
    AccountUpdate,
    AccountWithPassword,
    BearerRead,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    SessionRead,
)


def _client(request: Request) -> tuple[str, str]:
    return client_address(request), request.headers.get("user-agent", "")


def session_cookie(services: Services, token: str, max_age: int) -> Cookie:
    secure = services.settings.public_url.startswith("https://")
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, secure=secure, samesite="lax",
                  max_age=max_age)


async def open_session(services: Services, request: Request, account: AccountRead) -> tuple[Cookie, SessionRead]:
    """A new cookie session for *account*: the cookie to set and what the browser may read of it."""
    addr, ua = _client(request)
    token, session = await services.sessions.create(account.id, kind="cookie", client_addr=addr, user_agent=ua)
    body = SessionRead(account=account, csrf_token=session.csrf_token, expires_at=session.expires_at)
    return session_cookie(services, token, int(services.sessions.ttl)), body


async def sign_in(services: Services, request: Request, account: AccountRead) -> Response[SessionRead]:
    """Open a cookie session for *account* (used by every sign-in method)."""
    cookie, body = await open_session(services, request, account)
    return Response(body, cookies=[cookie])


async def authenticate(services: Services, request: Request, data: LoginRequest) -> AccountRead:
    with SignIn(request, "ldap" if data.method == "ldap" else "local") as attempt:   # counted in the metrics
        return await _authenticate(services, request, data, attempt)


async def _authenticate(services: Services, request: Request, data: LoginRequest, attempt: SignIn) -> AccountRead:
    client = client_address(request)
    await services.limiter.check_login(data.username, client)
    try:
        ldap = services.extra.get("ldap")
        use_ldap = data.method == "ldap"
        if data.method == "auto" and ldap is not None:
            local = await services.accounts.repo.by_username(data.username)
            use_ldap = local is None or local["source"] != "local"
        attempt.method = "ldap" if use_ldap else "local"
        if use_ldap:
            if ldap is None:
                raise ClientException("LDAP sign-in is not configured on this server")
            account = await ldap.authenticate(data.username, data.password)
        else:
            account = await services.accounts.authenticate_local(data.username, data.password)
    except NotAuthorizedException:  # a wrong name or password; not an outage or a refused account
        await services.limiter.failed(data.username, client)
        raise
    await services.limiter.succeeded(data.username, client)
    return account


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", summary="Sign in (local or LDAP); sets the session cookie", status_code=200)
    async def login(self, request: Request, data: LoginRequest) -> Response[SessionRead]:
        services: Services = request.app.state.services
        account = await authenticate(services, request, data)
        return await sign_in(services, request, account)

    @post("/token", summary="Sign in for API clients: a bearer token, no cookie", status_code=200)
    async def token(self, request: Request, data: LoginRequest) -> BearerRead:
        services: Services = request.app.state.services
        account = await authenticate(services, request, data)
        addr, ua = _client(request)
        token, session = await services.sessions.create(account.id, kind="bearer", client_addr=addr, user_agent=ua)
        return BearerRead(account=account, token=token, expires_at=session.expires_at)

    @post("/logout", summary="End this session", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: Request, principal: Principal) -> Response[None]:
        await request.app.state.services.sessions.revoke(principal.session_hash)
        return Response(None, status_code=HTTP_204_NO_CONTENT,
                        cookies=[Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True)])

    @get("/me", summary="The signed-in account and the session's CSRF token")
    async def me(self, request: Request, principal: Principal) -> SessionRead:
        services: Services = request.app.state.services
        account = await services.accounts.get(principal.account_id)
        return SessionRead(account=account, csrf_token=principal.csrf_token, expires_at=principal.expires_at)

    @post("/register", summary="Create a local account (when registration is on) and sign in",
          status_code=HTTP_201_CREATED)
    async def register(self, request: Request, data: AccountCreate) -> Response[SessionRead]:
        services: Services = request.app.state.services
        await services.limiter.check_login(data.username, client_address(request))
        account = await services.accounts.register(data)
        response = await sign_in(services, request, account)
        response.status_code = HTTP_201_CREATED
        return response

    @post("/password", summary="Change your password; other sessions end", status_code=HTTP_204_NO_CONTENT)
    async def change_password(self, request: Request, principal: Principal, data: PasswordChange) -> None:
        await request.app.state.services.accounts.change_password(
            principal.account_id, data.current_password, data.new_password, keep_session=principal.session_hash)

    @get("/providers", summary="How one may sign in here (for the sign-in page)")
    async def providers(self, request: Request) -> dict:
        services: Services = request.app.state.services
        oidc = services.extra.get("oidc")
        return {
            "registration": services.accounts.allow_registration,
            "ldap": services.extra.get("ldap") is not None,
            "oidc": oidc.public_list() if oidc is not None else [],
        }


class AccountAdminController(Controller):
    path = "/api/v1/accounts"
    tags = ["accounts"]

    @get("/", summary="List accounts (admin)")
    async def list_accounts(self, request: Request, principal: Principal,
                            q: str = Parameter(default="", max_length=64),
                            limit: int = Parameter(default=100, ge=1, le=500),
                            offset: int = Parameter(default=0, ge=0)) -> list[AccountRead]:
        require_role(principal, "admin", "list accounts")
        return await request.app.state.services.accounts.list(limit=limit, offset=offset, query=q)

    @get("/{account_id:str}", summary="One account (admin)")
    async def get_account(self, request: Request, principal: Principal, account_id: str) -> AccountRead:
        require_role(principal, "admin", "read accounts")
        return await request.app.state.services.accounts.get(account_id)

    @patch("/{account_id:str}", summary="Change role, disable or enable, rename (admin)")
    async def update_account(self, request: Request, principal: Principal, account_id: str,
                             data: AccountUpdate) -> AccountRead:
        require_role(principal, "admin", "change accounts")
        return await request.app.state.services.accounts.admin_update(
            account_id, data, by=principal.account_id, actor=audit.actor_of(principal, as_admin=True))

    @post("/", summary="Create a local account (admin); a password is generated when none is given",
          status_code=HTTP_201_CREATED)
    async def create_account(self, request: Request, principal: Principal,
                             data: AccountAdminCreate) -> AccountWithPassword:
        require_role(principal, "admin", "create accounts")
        return await request.app.state.services.accounts.admin_create(
            data, actor=audit.actor_of(principal, as_admin=True))

    @post("/{account_id:str}/password", summary="Reset a local account's password (admin); its sessions end",
          status_code=200)
    async def reset_password(self, request: Request, principal: Principal, account_id: str,
                             data: PasswordReset | None = None) -> AccountWithPassword:
        require_role(principal, "admin", "reset passwords")
        return await request.app.state.services.accounts.reset_password(
            account_id, (data or PasswordReset()).password, actor=audit.actor_of(principal, as_admin=True))
