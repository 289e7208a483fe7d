"""The Socket.IO transport, mounted at ``/socket.io``: the same protocol as ``/ws``.

Both directions use one event, ``message``, carrying one protocol message — the same JSON text as a
WebSocket frame (the edge also accepts an object from the client). The join token may come in the
Socket.IO ``auth`` payload (``{token, meeting_id}``): it is verified while connecting, so a bad
token is a ``connect_error`` whose ``data`` has ``code`` and ``message``; the first ``join`` may
then omit the token. Before the edge closes a connection it emits ``close`` with
``{code, reason}`` — the WebSocket close code and reason — then disconnects.

``Origin`` is checked by Engine.IO against ``signaling.allowed_origins`` (the handshake is refused
with HTTP 400 "Not an accepted origin").

A packet that Socket.IO cannot read (not JSON, nested too deeply, not an event array, a ``message``
event without exactly one argument, another event) is answered like a bad WebSocket frame: an
``error`` in a ``message`` event, and the connection stays open. Engine.IO's and Socket.IO's own
log lines about such packets are one line (:class:`QuietLogger`), never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec
import socketio

from nodes.claims import TokenError
from nodes.websocket import WS_MAX_BYTES

from .session import Session, Signaling

log = logging.getLogger(__name__)


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


class QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger handed to Engine.IO and Socket.IO: their chatter goes to DEBUG, and what they
    report as an error (a client's malformed packet, a socket gone mid-read) is one INFO line
    naming the exception (DEBUG within a second of the last one) — no traceback."""

    def __init__(self) -> None:
        super().__init__(log, {})
        self._quiet_until = 0.0

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1] if kwargs.pop("exc_info", False) else None
        kwargs.pop("stack_info", None)
        now = time.monotonic()
        if level >= logging.ERROR:     # at most one INFO line a second: clients cannot flood the log
            self.logger.log(logging.INFO if now >= self._quiet_until else logging.DEBUG, "Socket.IO: %s",
                            str(msg) % args if args else msg,
                            extra={"error": repr(exc)[:300]} if exc is not None else None)
            self._quiet_until = max(self._quiet_until, now + 1.0)
        else:
            self.logger.debug("Socket.IO: %s", str(msg) % args if args else msg)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING, msg, *args, **kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg: object, *args: Any, exc_info: bool = True, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, exc_info=exc_info, **kwargs)

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.log(logging.CRITICAL, msg, *args, **kwargs)


def unreadable(exc: BaseException, data: Any = None) -> str:
    """What was wrong with a Socket.IO packet that could not be handled."""
    if isinstance(data, bytes):
        return ("a binary message that is no Socket.IO packet (binary messages only carry the "
                "attachments of a binary event; a text frame that is not UTF-8 arrives as one)")
    if isinstance(exc, RecursionError):
        return "the Socket.IO packet is nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"the Socket.IO packet is not JSON: {exc}"
    if isinstance(exc, (IndexError, KeyError, TypeError)):
        return "a Socket.IO event must be a JSON array starting with the event name"
    return f"not a Socket.IO packet the edge reads: {exc}"


class Server(socketio.AsyncServer):
    """Socket.IO, where a packet that cannot be read is answered (``on_unreadable``), not dropped
    with a traceback."""

    on_unreadable: Callable[[str, str], Any] | None = None

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:  # noqa: BLE001 - a client's malformed packet: answered below
            self._binary_packet.pop(eio_sid, None)
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            if self.on_unreadable is not None and sid is not None:
                await self.on_unreadable(sid, unreadable(exc, data))
            else:   # not connected to the namespace yet: refuse the connection attempt
                why = unreadable(exc, data)
                await self._send_packet(eio_sid, self.packet_class(
                    socketio.packet.CONNECT_ERROR, data={"message": why, "data": {"code": "invalid", "message": why}}))


def create_server(get_signaling: Callable[[], Signaling | None], *,
                  allowed_origins: list[str]) -> socketio.AsyncServer:
    """A Socket.IO server whose sessions come from ``get_signaling()`` (filled in by the app's lifespan)."""
    quiet = QuietLogger()
    sio = Server(
        async_mode="asgi", cors_allowed_origins=list(allowed_origins) or "*", async_handlers=False,
        # Messages over the protocol limit still reach the session (and get an error back), up to
        # the WebSocket limit.
        max_http_buffer_size=WS_MAX_BYTES, logger=quiet, engineio_logger=quiet,
    )
    sessions: dict[str, Session] = {}

    async def refuse(sid: str, message: str) -> None:
        session = sessions.get(sid)
        if session is not None:
            session.refuse("invalid", message)

    sio.on_unreadable = refuse

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
            except Exception:  # noqa: BLE001 - the edge's fault, not the packet's: logged as such
                log.exception("socket.io connect failed")
                raise refused("internal", "the edge failed to check the token") from None
            if meeting and meeting != claims.mid:
                raise refused("wrong_meeting", "the token is for another meeting")
        sessions[sid] = signaling.session(SocketIOTransport(sio, sid), url_meeting=meeting, claims=claims)

    @sio.on("message")
    async def message(sid: str, *args: Any) -> None:
        session = sessions.get(sid)
        if session is None:
            return
        if len(args) != 1:
            session.refuse("invalid", f"a message event carries one protocol message, not {len(args)}")
            return
        data = args[0]
        if not isinstance(data, (str, bytes)):
            try:
                data = msgspec.json.encode(data)
            except (UnicodeEncodeError, RecursionError, TypeError, ValueError) as exc:
                session.refuse("bad_json", f"the message cannot be read as JSON: {exc}")
                return
        await session.receive(data)

    @sio.on("*")
    async def other(event: Any, sid: str, *_args: Any) -> None:
        session = sessions.get(sid)
        if session is not None:
            session.refuse("unknown_type", f"unknown Socket.IO event {str(event)[:60]!r}: every protocol "
                                           "message goes in a message event", field="event")

    @sio.event
    async def disconnect(sid: str, *_reason: Any) -> None:
        session = sessions.pop(sid, None)
        if session is not None:
            session.disconnected()

    return sio


def asgi_app(sio: socketio.AsyncServer) -> socketio.ASGIApp:
    """The ASGI app to mount at ``/socket.io`` (the mount strips the prefix: route everything)."""
    return socketio.ASGIApp(sio, socketio_path=None)
