"""Edge settings (TOML → msgspec). Annotated example: ``configs/edge.toml``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nodes.settings import Base, HttpSettings, LogSettings, NatsSettings


class HeartbeatSettings(Base):
    #: Seconds between heartbeats; the control plane drops an edge after three missed ones.
    interval: float = 2.0


class Settings(Base):
    #: Unique id of this edge (letters, digits, ``-`` and ``_``).
    edge_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    #: Region the edge serves; placement prefers edges in the participant's region.
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "local"
    #: Signaling URL handed to clients (``ws://`` or ``wss://``), as they can reach it.
    public_url: str = "ws://127.0.0.1:8081/ws"
    http: HttpSettings = msgspec.field(default_factory=lambda: HttpSettings(port=8081))
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    heartbeat: HeartbeatSettings = msgspec.field(default_factory=HeartbeatSettings)
