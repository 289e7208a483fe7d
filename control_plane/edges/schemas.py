from __future__ import annotations

from typing import Annotated

import msgspec


class EdgeRead(msgspec.Struct):
    edge_id: str
    region: str
    public_url: str
    meetings: int
    participants: int
    tracks: int
    cpu_pct: float
    draining: bool
    version: str
    #: Seconds since the last heartbeat.
    age: float
    started_at: float
    #: The machine the edge is a worker of ("" for an edge alone on its machine).
    machine: str = ""
    #: Subscriber streams it forwards.
    streams: int = 0


class DrainBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


class EdgeDrained(msgspec.Struct, kw_only=True):
    edge_id: str
    #: The edge confirmed: it takes no new joins; its heartbeats say ``draining`` from now on.
    draining: bool
    command_id: str
