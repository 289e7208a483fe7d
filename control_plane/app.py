"""``create_app(settings)``: the control plane as a Litestar application.

Nothing is read at import time; the lifespan opens the database, connects to NATS and starts the
edge registry inside one ``AsyncExitStack`` that closes in reverse order on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from nodes.bus import Bus

from . import errors
from .accounts import passwords
from .accounts.bootstrap import ensure_first_admin
from .accounts.controllers import AccountAdminController, AuthController
from .accounts.service import AccountService
from .audit.controllers import AuditController
from .auth.controllers import OidcController
from .auth.ldap import LdapAuthenticator
from .auth.oidc_flow import OidcLogin
from .auth.principal import provide_maybe_principal, provide_principal
from .auth.ratelimit import StoredLoginLimiter
from .auth.sessions import SessionStore
from .bodies import request_class
from .breakouts.controllers import BreakoutController
from .breakouts.wiring import start_breakouts
from .clients import TrustedProxies
from .db import open_store
from .edges.controllers import EdgeController
from .edges.registry import EdgeRegistry
from .events.controllers import RosterController
from .health.controllers import healthz, readyz
from .meetings.command_controllers import CommandController
from .meetings.controllers import MeetingController
from .meetings.wiring import start_meetings
from .metrics import ControlPlaneMetrics, metrics_endpoint
from .recordings.controllers import MeetingRecordingController, RecordingController
from .services import Services
from .settings import Settings
from .tokens.controllers import KeyController, jwks, well_known_jwks
from .web.controllers import WebController
from .webhooks.controllers import WebhookController
from .webhooks.wiring import start_webhooks

log = logging.getLogger("control_plane")


def create_app(settings: Settings) -> Litestar:
    metrics = ControlPlaneMetrics(settings.metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        passwords.configure(settings.accounts.password_hash_memory_kib, settings.accounts.password_hash_passes)
        async with contextlib.AsyncExitStack() as stack:
            db = await open_store(settings.database)
            stack.push_async_callback(db.close)
            await ensure_first_admin(db, settings.bootstrap.admin_username, settings.bootstrap.admin_password_file)
            bus = Bus(settings.nats, name="control-plane")
            stack.push_async_callback(bus.close)
            bus.on_request = metrics.nats_request
            registry = EdgeRegistry(ttl=settings.edges.ttl, sweep_interval=settings.edges.sweep_interval)
            registry.start()
            stack.push_async_callback(registry.stop)
            bus.on_connect(registry.attach)
            acc = settings.accounts
            sessions = SessionStore(db, ttl=acc.session_ttl, idle=acc.session_idle)
            app.state.services = Services(
                settings=settings, db=db, bus=bus, edges=registry, sessions=sessions,
                accounts=AccountService(db, sessions, allow_registration=acc.allow_registration,
                                        default_role=acc.default_role),
                limiter=StoredLoginLimiter(db, per_account=acc.login_attempts_per_account,
                                           per_address=acc.login_attempts_per_address, window=acc.login_window),
            )
            if settings.ldap:
                app.state.services.extra["ldap"] = LdapAuthenticator(settings.ldap, app.state.services.accounts)
            if settings.oidc:
                oidc = OidcLogin(settings.oidc, db=db, accounts=app.state.services.accounts,
                                 public_url=settings.public_url, ttl=acc.oidc_pending_ttl,
                                 max_pending=acc.oidc_pending_max, per_client=acc.oidc_pending_per_address)
                stack.push_async_callback(oidc.close)
                app.state.services.extra["oidc"] = oidc
            await start_meetings(stack, app.state.services)
            await start_breakouts(stack, app.state.services)
            metrics.services = app.state.services
            await metrics.metrics.start()
            stack.push_async_callback(metrics.metrics.stop)
            await start_webhooks(stack, app.state.services)
            await bus.start()
            yield

    return Litestar(
        route_handlers=[healthz, readyz, metrics_endpoint, EdgeController, AuthController, AccountAdminController,
                        OidcController, MeetingController, CommandController, RosterController, BreakoutController,
                        MeetingRecordingController, RecordingController, jwks,
                        well_known_jwks, WebController, AuditController, KeyController, WebhookController],
        lifespan=[lifespan],
        state=State({"proxies": TrustedProxies(settings.clients.trusted_proxies), "cp_metrics": metrics}),
        before_send=[metrics.before_send],
        dependencies={"principal": Provide(provide_principal), "maybe_principal": Provide(provide_maybe_principal)},
        exception_handlers=errors.HANDLERS,
        openapi_config=OpenAPIConfig(title="Curious Connect control plane", version="0.1.0", path="/api/docs"),
        request_max_body_size=settings.clients.max_body_bytes,
        request_class=request_class(settings.clients.max_json_depth),
        debug=False,
        # Logging is the process's (nodes.logs, set up by the runner); Litestar's default would
        # replace the root logger's handlers when the app is built.
        logging_config=None,
    )
