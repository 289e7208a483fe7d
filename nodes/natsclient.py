"""The NATS client class every :class:`~nodes.bus.Bus` connects with.

nats-py answers each PONG by resolving the oldest PING's future. ``flush(timeout)`` cancels its
future when the timeout passes (or when the flushing task is cancelled) but leaves it queued, so
when the late PONG arrives, resolving the cancelled future raises ``InvalidStateError`` inside the
read loop, which then stops: the connection looks up but delivers nothing until the keep-alive
pings give up on it. Here a PONG for a future nobody waits for any more is simply consumed.
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as _NatsClient


class Client(_NatsClient):
    async def _process_pong(self) -> None:
        try:
            await super()._process_pong()
        except asyncio.InvalidStateError:
            # The oldest ping's future was cancelled (a flush that timed out) and already taken
            # off the queue; its PONG still proves the connection alive.
            self._pongs_received += 1
            self._pings_outstanding = 0
