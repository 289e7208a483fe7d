"""The seam between signaling (sockets) and the conference (meetings).

A signaling session holds a :class:`Seat` once its participant is in a meeting, and is itself a
:class:`Link`: the conference sends it protocol messages and may close it. Everything that crosses
this seam is a protocol message (:mod:`edge.protocol`) or a :class:`Refusal`, so the
two sides could live on different nodes with a message bus between them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from nodes.claims import JoinClaims

from ..protocol import ClientMessage, Join, ServerMessage

# Close codes the conference (and the signaling layer) use; docs/protocol.md lists them.
CLOSE_NORMAL = 1000
CLOSE_AUTH = 4001
CLOSE_ORIGIN = 4003
CLOSE_NO_JOIN = 4004
CLOSE_IDLE = 4008
CLOSE_SLOW = 4009
CLOSE_KICKED = 4010
CLOSE_ENDED = 4011
CLOSE_DENIED = 4012
CLOSE_REPLACED = 4013
CLOSE_EDGE_STOPPING = 4014


class Refusal(Exception):
    """A request that is refused: becomes an ``error`` message with *code*, *message* and *field*."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


#: Asks the control plane to start or stop recording: (meeting id, "start" or "stop", account id,
#: participant id). Raises :class:`Refusal` with the control plane's answer when it refuses.
RecordingControl = Callable[[str, str, str, str], Awaitable[None]]


class Link(Protocol):
    """A participant's current connection (a signaling session)."""

    def send(self, msg: ServerMessage) -> None:
        """Queue *msg* for the client; never blocks (a client that falls behind is disconnected)."""

    def close(self, code: int, reason: str) -> None:
        """Close the connection after what is already queued has been sent."""


class Seat(Protocol):
    """A participant's place in a meeting, as its signaling session sees it."""

    participant_id: str

    async def request(self, msg: ClientMessage) -> None:
        """Carry out a client request; replies go to the link. Raises :class:`Refusal`."""

    async def leave(self) -> None: ...

    def detach(self, link: Link) -> None:
        """*link* is gone (socket dropped): keep the place for the resume grace period."""


class Entry(Protocol):
    """How a signaling session gets a seat."""

    async def join(self, claims: JoinClaims, request: Join, link: Link) -> Seat:
        """Enter the token's meeting (or its lobby). Raises :class:`Refusal`."""

    async def resume(self, request: Join, link: Link) -> Seat:
        """Take back a place with ``request.resume_token``. Raises :class:`Refusal`."""
