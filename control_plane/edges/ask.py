"""One request to the edges over NATS and its answer, as the API reports it: no responder → the
caller's *nobody* error (503); no reply in time → 504; NATS not connected → 503; an unreadable
reply → 502. Moderation commands and the drain command go through it."""

from __future__ import annotations

import msgspec
import nats.errors
from litestar.exceptions import HTTPException, ServiceUnavailableException

from nodes import wire
from nodes.bus import Bus


async def ask_edge(bus: Bus, subject: str, command: wire.Command | wire.DrainEdge, *, timeout: float, what: str,
                   nobody: Exception) -> wire.CommandReply | wire.ErrorReply:
    try:
        msg = await bus.request(subject, wire.encode(command), timeout=timeout, what=what)
    except nats.errors.NoRespondersError:
        raise nobody from None
    except (nats.errors.TimeoutError, TimeoutError):
        raise HTTPException(status_code=504, detail=f"the edge did not confirm within {timeout:g} s") from None
    except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError, nats.errors.NoServersError):
        raise ServiceUnavailableException("not connected to NATS") from None
    try:
        reply: wire.CommandReply | wire.ErrorReply = wire.reply_decoder.decode(msg.data)
        return reply
    except msgspec.DecodeError:
        raise HTTPException(status_code=502, detail="the edge sent an unreadable reply") from None
