"""What the control plane's handlers reach: built by the app's lifespan, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nodes.bus import Bus

from .accounts.service import AccountService
from .auth.ratelimit import LoginLimiter
from .auth.sessions import SessionStore
from .db import Database
from .edges.registry import EdgeRegistry
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    edges: EdgeRegistry
    sessions: SessionStore
    accounts: AccountService
    limiter: LoginLimiter
    #: Optional sign-in methods and later features, by name ("ldap", "oidc", …).
    extra: dict[str, Any] = field(default_factory=dict)
