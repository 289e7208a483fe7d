"""The ``cc.cp.jwks`` NATS service: edges ask it for the join-token public keys.

It runs as a ``nats.micro`` service (so ``$SRV.PING``/``INFO``/``STATS`` work) in the queue group
``control-plane``: with several control planes, one answers each request. Every request is
answered: with :class:`nodes.wire.JwksReply`, or :class:`nodes.wire.ErrorReply` if something
failed (the one error boundary), never with silence.
"""

from __future__ import annotations

import logging

from nats import micro
from nats.micro.service import Service

from nodes import subjects, wire
from nodes.bus import Bus

from .keys import KeyStore

log = logging.getLogger(__name__)

SERVICE_NAME = "cc-control-plane-jwks"
QUEUE = "control-plane"


class JwksResponder:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self.service: Service | None = None

    async def attach(self, bus: Bus) -> None:
        """Start the service (a :meth:`Bus.on_connect` hook)."""
        if self.service is not None:
            return
        service = await micro.add_service(bus.nc, name=SERVICE_NAME, version="1.0.0", queue_group=QUEUE,
                                          description="Join-token public keys (JWKS)")
        await service.add_endpoint(name="jwks", subject=subjects.JWKS, handler=self._handle)
        self.service = service

    def reply(self) -> bytes:
        try:
            return wire.encode(wire.JwksReply(keys=self.keys.jwks()["keys"]))
        except Exception as exc:  # noqa: BLE001 - the one error boundary: always answer
            log.exception("jwks request failed")
            return wire.encode(wire.ErrorReply(error="internal", detail=f"cannot read signing keys: {exc}"))

    async def _handle(self, request: micro.Request) -> None:
        await request.respond(self.reply())

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None
