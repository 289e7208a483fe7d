"""What the control plane's handlers reach: built by the app's lifespan, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nodes.bus import Bus

from .accounts.service import AccountService
from .auth.ratelimit import StoredLoginLimiter
from .auth.sessions import SessionStore
from .db import Database
from .edges.registry import EdgeRegistry
from .settings import Settings

if TYPE_CHECKING:
    from .breakouts.service import BreakoutService
    from .events.consumer import EventConsumer
    from .meetings.commands import CommandService
    from .meetings.join import JoinService
    from .meetings.service import MeetingService
    from .placement.service import PlacementService
    from .recordings.service import RecordingService
    from .tokens.service import TokenService


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    edges: EdgeRegistry
    sessions: SessionStore
    accounts: AccountService
    limiter: StoredLoginLimiter
    #: Optional sign-in methods and later features, by name ("ldap", "oidc", …).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Meetings, join tokens, placement, commands and events (set by the lifespan).
    tokens: TokenService | None = None
    meetings: MeetingService | None = None
    placement: PlacementService | None = None
    joins: JoinService | None = None
    commands: CommandService | None = None
    events: EventConsumer | None = None
    recordings: RecordingService | None = None
    breakouts: BreakoutService | None = None
