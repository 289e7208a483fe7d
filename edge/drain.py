"""Draining on the control plane's word: ``cc.cmd.edge.<this edge>.drain`` (:class:`nodes.wire.DrainEdge`).

The edge stops taking joins and new meetings, as it does on SIGTERM, but keeps serving the meetings
it has (an admin drains an edge before taking it down: ``curious edges drain``). Only the control
plane may publish under ``cc.cmd.`` (NATS permissions, docs/subjects.md), so a message on this
subject comes from it; the edge also checks that the message names this edge.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.msg import Msg

from nodes import subjects, wire
from nodes.bus import Bus

log = logging.getLogger(__name__)


class DrainEndpoint:
    def __init__(self, bus: Bus, *, edge_id: str, drain: Callable[[], Awaitable[None]]) -> None:
        self.bus = bus
        self.edge_id = edge_id
        self.subject = subjects.edge_drain(edge_id)
        self._drain = drain
        self._sub: Any = None

    def start(self) -> None:
        self.bus.on_connect(self._subscribe)

    async def _subscribe(self, bus: Bus) -> None:
        if self._sub is None:
            self._sub = await bus.nc.subscribe(self.subject, cb=self._on_msg)
            await bus.nc.flush(timeout=2)

    async def _respond(self, msg: Msg, reply: wire.CommandReply) -> None:
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(wire.encode(reply))

    async def _on_msg(self, msg: Msg) -> None:
        try:
            cmd = wire.drain_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._respond(msg, wire.CommandReply(command_id="", ok=False, edge_id=self.edge_id,
                                                       error=f"bad drain command: {exc}"))
            return
        if msg.subject != self.subject or cmd.edge_id != self.edge_id:
            log.warning("drain command for another edge", extra={"subject": msg.subject, "edge": cmd.edge_id})
            await self._respond(msg, wire.CommandReply(command_id=cmd.command_id, ok=False, edge_id=self.edge_id,
                                                       error="this drain command names another edge"))
            return
        log.info("drain asked by the control plane", extra={"by": cmd.by, "reason": cmd.reason,
                                                            "command_id": cmd.command_id})
        await self._drain()
        await self._respond(msg, wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id))

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
