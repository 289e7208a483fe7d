"""HTTP: OpenID Connect sign-in (``/api/v1/auth/oidc/<provider>/start`` and ``/callback``)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect

from ..accounts.controllers import open_session
from ..clients import client_address
from ..metrics import SignIn
from ..services import Services
from .oidc_flow import BROWSER_COOKIE, OidcLogin, browser_secret


def _login(services: Services) -> OidcLogin:
    login = services.extra.get("oidc")
    if login is None:
        raise NotFoundException("OpenID Connect sign-in is not configured on this server")
    return login


class OidcController(Controller):
    path = "/api/v1/auth/oidc"
    tags = ["auth"]

    @get("/{provider:str}/start", summary="Begin signing in with an OpenID Connect provider (302 to it)",
         status_code=302)
    async def start(self, request: Request, provider: str,
                    next_path: str | None = Parameter(query="next", default=None, max_length=2000)) -> Redirect:
        services: Services = request.app.state.services
        login = _login(services)
        browser = browser_secret(request.cookies.get(BROWSER_COOKIE))
        url = await login.start(provider, next_path, browser, client_address(request))
        cookie = Cookie(key=BROWSER_COOKIE, value=browser, path="/api/v1/auth/oidc", httponly=True,
                        secure=services.settings.public_url.startswith("https://"), samesite="lax",
                        max_age=int(login.states.ttl))
        return Redirect(path=url, status_code=302, cookies=[cookie])

    @get("/{provider:str}/callback", summary="Where the provider sends the browser back; opens the session",
         status_code=302)
    async def callback(self, request: Request, provider: str,
                       code: str | None = Parameter(default=None, max_length=4096),
                       oidc_state: str | None = Parameter(query="state", default=None, max_length=512),
                       error: str | None = Parameter(default=None, max_length=256),
                       error_description: str | None = Parameter(default=None, max_length=2000),
                       iss: str | None = Parameter(default=None, max_length=2000)) -> Redirect:
        services: Services = request.app.state.services
        with SignIn(request, "oidc"):   # counted in the metrics
            account, next_path = await _login(services).finish(
                provider, code=code, state=oidc_state, error=error, error_description=error_description, iss=iss,
                browser=request.cookies.get(BROWSER_COOKIE))
        cookie, _ = await open_session(services, request, account)
        return Redirect(path=next_path, status_code=302, cookies=[cookie])
