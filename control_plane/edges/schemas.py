from __future__ import annotations

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
