"""The Socket.IO transport, mounted at ``/socket.io``: the same protocol as ``/ws``.

Both directions use one event, ``message``, carrying one protocol message — the same JSON text as a
WebSocket frame (the edge also accepts an object from the client). The join token may come in the
Socket.IO ``auth`` payload (``{token, meeting_id}``): it is verified while connecting, so a bad
token is a ``connect_error`` whose ``data`` has ``code`` and ``message``; the first ``join`` may
then omit the token. Before the edge closes a connection it emits ``close`` with
``{code, reason}`` — the WebSocket close code and reason — then disconnects.

``Origin`` is checked by Engine.IO against ``signaling.allowed_origins`` (the handshake is refused
with HTTP 400 "Not an accepted origin").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
import socketio

from nodes.claims import TokenError

from .session import Session, Signaling


class SocketIOTransport:
    def __init__(self, sio: socketio.AsyncServer, sid: str) -> None:
        self.sio, self.sid = sio, sid

    async def send(self, text: str) -> None:
        await self.sio.emit("message", text, to=self.sid)

    async def close(self, code: int, reason: str) -> None:
        await self.sio.emit("close", {"code": code, "reason": reason}, to=self.sid)
        await self.sio.disconnect(self.sid)


def refused(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection: the client's ``connect_error`` has ``message`` and ``data: {code, message}``."""
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message})


def create_server(get_signaling: Callable[[], Signaling | None], *, allowed_origins: list[str],
                  max_message_bytes: int) -> socketio.AsyncServer:
    """A Socket.IO server whose sessions come from ``get_signaling()`` (filled in by the app's lifespan)."""
    sio = socketio.AsyncServer(
        async_mode="asgi", cors_allowed_origins=list(allowed_origins) or "*", async_handlers=False,
        # Frames a little over the protocol limit still reach the session (and get an error back).
        max_http_buffer_size=2 * max_message_bytes + (1 << 20), logger=False, engineio_logger=False,
    )
    sessions: dict[str, Session] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        signaling = get_signaling()
        if signaling is None:
            raise refused("unavailable", "the edge is starting")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        auth = auth if isinstance(auth, dict) else {}
        meeting = str(auth.get("meeting_id") or (query.get("meeting") or [""])[0])
        claims = None
        token = auth.get("token")
        if token:
            try:
                claims = await signaling.verifier.verify(str(token))
            except TokenError as exc:
                raise refused(exc.code, str(exc)) from None
            if meeting and meeting != claims.mid:
                raise refused("wrong_meeting", "the token is for another meeting")
        sessions[sid] = signaling.session(SocketIOTransport(sio, sid), url_meeting=meeting, claims=claims)

    @sio.on("message")
    async def message(sid: str, data: Any) -> None:
        session = sessions.get(sid)
        if session is None:
            return
        if not isinstance(data, (str, bytes)):
            data = msgspec.json.encode(data)
        await session.receive(data)

    @sio.event
    async def disconnect(sid: str, *_reason: Any) -> None:
        session = sessions.pop(sid, None)
        if session is not None:
            session.disconnected()

    return sio


def asgi_app(sio: socketio.AsyncServer) -> socketio.ASGIApp:
    """The ASGI app to mount at ``/socket.io`` (the mount strips the prefix: route everything)."""
    return socketio.ASGIApp(sio, socketio_path=None)
