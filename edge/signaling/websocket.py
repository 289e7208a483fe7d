"""The WebSocket transport: ``GET /ws`` (optionally ``?meeting=<id>``), one JSON message per frame.

``Origin`` is checked against ``signaling.allowed_origins`` (refused with close code 4003); after
that every frame goes to the socket's :class:`~.session.Session`.
"""

from __future__ import annotations

from litestar import WebSocket, websocket

from .. import protocol as m
from ..conference.interfaces import CLOSE_ORIGIN
from .session import Signaling


class WebSocketTransport:
    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket

    async def send(self, text: str) -> None:
        await self.socket.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self.socket.close(code=code, reason=reason)


@websocket("/ws", name="signaling")
async def signaling_socket(socket: WebSocket) -> None:
    signaling: Signaling = socket.app.state.signaling
    await socket.accept()
    origin = socket.headers.get("origin")
    if not signaling.origin_allowed(origin):
        await socket.send_text(m.encode(m.Error(code="origin_not_allowed",
                                                message=f"origin {origin!r} may not connect")).decode())
        await socket.close(code=CLOSE_ORIGIN, reason="origin not allowed")
        return
    session = signaling.session(WebSocketTransport(socket), url_meeting=socket.query_params.get("meeting", ""))
    try:
        while True:
            event = await socket.receive()
            if event["type"] != "websocket.receive":
                break
            data = event.get("text")
            await session.receive(data if data is not None else event.get("bytes") or b"")
    finally:
        session.disconnected()
