"""What the control plane's handlers reach: built by the app's lifespan, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nodes.bus import Bus

from .db import Database
from .edges.registry import EdgeRegistry
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    edges: EdgeRegistry
    extra: dict[str, Any] = field(default_factory=dict)
