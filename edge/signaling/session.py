"""One signaling session per socket, whatever carries it (WebSocket or Socket.IO).

The transport feeds each incoming frame to :meth:`Session.receive` (one at a time, in order) and
calls :meth:`Session.disconnected` when the socket is gone. The session decodes the frame with the
one client decoder, dispatches it with ``match`` and answers every bad message with an ``error``
(one error boundary). Only a failed authentication closes the socket (4001). Outgoing messages go
through a bounded queue drained by one writer task: a client that falls behind is disconnected
(4009) rather than buffered without bound.

The session is the conference's :class:`~edge.conference.interfaces.Link`; once joined it holds a
:class:`~edge.conference.interfaces.Seat` and knows nothing else about meetings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Protocol

import msgspec

from nodes.claims import JoinClaims, TokenError

from .. import protocol as m
from ..conference.interfaces import CLOSE_AUTH, CLOSE_IDLE, CLOSE_NO_JOIN, CLOSE_SLOW, Entry, Refusal, Seat

log = logging.getLogger(__name__)


class Transport(Protocol):
    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class Verifier(Protocol):
    async def verify(self, token: str) -> JoinClaims: ...


class _Close:
    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


_AT = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def field_of(error: str) -> str:
    """The request field a msgspec validation message is about (``sources``, ``candidate.candidate``)."""
    path = _AT.search(error)
    base = re.sub(r"\[[^\]]*\]", "", path.group(1)) if path else ""
    missing = _MISSING.search(error)
    if missing:
        return f"{base}.{missing.group(1)}" if base else missing.group(1)
    return base


def _not_utf8(data: bytes) -> str:
    """Why *data* is not UTF-8 text, or "" when it is."""
    try:
        data.decode()
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text: {exc.reason} at byte {exc.start}"
    return ""


def close_reason(text: str) -> str:
    """A WebSocket close reason is at most 123 bytes."""
    raw = text.encode()
    return text if len(raw) <= 120 else raw[:120].decode(errors="ignore")


class Session:
    def __init__(self, transport: Transport, *, entry: Entry, verifier: Verifier, max_message_bytes: int,
                 join_timeout: float, idle_timeout: float, send_queue: int, url_meeting: str = "",
                 claims: JoinClaims | None = None) -> None:
        self.transport = transport
        self.entry, self.verifier = entry, verifier
        self.max_bytes, self.join_timeout, self.idle_timeout = max_message_bytes, join_timeout, idle_timeout
        self.send_limit = send_queue
        self.url_meeting = url_meeting
        self.claims = claims
        self.seat: Seat | None = None
        self.closing = False
        self.gone = False
        #: Messages refused as malformed on this socket.
        self.malformed = 0
        self._queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._join_timer: asyncio.TimerHandle | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._last_heard = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._writer = loop.create_task(self._write(), name="signaling-writer")
        self._join_timer = loop.call_later(self.join_timeout, self._check_joined)
        if self.idle_timeout > 0:
            self._idle_timer = loop.call_later(self.idle_timeout, self._check_idle)

    def disconnected(self) -> None:
        """The socket is gone (closed by either side): the seat, if any, waits for a resume."""
        if self.gone:
            return
        self.gone = self.closing = True
        for timer in (self._join_timer, self._idle_timer):
            if timer is not None:
                timer.cancel()
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        if self.seat is not None:
            self.seat.detach(self)

    def _check_joined(self) -> None:
        if self.seat is None and not self.closing:
            self._reply(m.Error(code="join_timeout", message=f"no join within {self.join_timeout:g} s"))
            self.close(CLOSE_NO_JOIN, "no join in time")

    def _check_idle(self) -> None:
        if self.closing:
            return
        quiet = time.monotonic() - self._last_heard
        if quiet >= self.idle_timeout:
            self.close(CLOSE_IDLE, f"nothing heard for {self.idle_timeout:g} s")
        else:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_timeout - quiet, self._check_idle)

    # -- Link: what the conference sends ------------------------------------------------------------
    def send(self, msg: m._Out) -> None:
        if self.closing:
            return
        if self._queue.qsize() >= self.send_limit:
            self._too_slow()
            return
        self._queue.put_nowait(m.encode(msg).decode())

    def _too_slow(self) -> None:
        """The client does not read: stop writing to it, let go of the seat (a resume can pick it up
        again) and close the socket if it still takes a close frame within a few seconds."""
        log.warning("client too slow, disconnecting", extra={"queued": self._queue.qsize()})
        self.disconnected()
        self._closer = asyncio.get_running_loop().create_task(self._close_slow())

    async def _close_slow(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.transport.close(CLOSE_SLOW, "too slow: messages piled up"), 5.0)

    def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self._queue.put_nowait(_Close(code, close_reason(reason)))

    def _reply(self, msg: m._Out) -> None:
        self.send(msg)

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    await self.transport.close(item.code, item.reason)
                    return
                await self.transport.send(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the socket went away under us
            log.debug("signaling write failed", extra={"error": repr(exc)})

    # -- reading ----------------------------------------------------------------------------------
    async def receive(self, data: str | bytes) -> None:
        """Handle one incoming frame; every problem becomes an ``error`` reply (one boundary)."""
        if self.closing:
            return
        self._last_heard = time.monotonic()
        was_text = isinstance(data, str)
        if isinstance(data, str):
            try:
                data = data.encode()
            except UnicodeEncodeError as exc:    # a lone surrogate, e.g. from a Socket.IO "\ud800"
                self.refuse("bad_json", f"not UTF-8 text: {exc.reason} at character {exc.start}")
                return
        if len(data) > self.max_bytes:
            self.refuse("too_large", f"message of {len(data)} bytes is over the {self.max_bytes}-byte limit")
            return
        if not was_text and (why := _not_utf8(data)):   # a binary frame, or a text frame that is not UTF-8
            self.refuse("bad_json", why)
            return
        try:
            msg = m.client_decoder.decode(data)
        except msgspec.ValidationError as exc:
            self._reply(self._unreadable(self._invalid(str(exc), m.request_id_of(data))))
            return
        except msgspec.DecodeError as exc:
            surrogate = m.lone_surrogate(data)
            self.refuse("bad_json", f"a string holds {surrogate}, half of a UTF-16 surrogate pair" if surrogate
                        else f"not a JSON message: {exc}")
            return
        except RecursionError:
            self.refuse("invalid", "the message is nested too deeply to read", re=m.request_id_of(data))
            return
        try:
            await self._dispatch(msg)
        except Refusal as r:
            self._reply(m.Error(code=r.code, message=r.message, field=r.field, re=msg.id))
        except Exception:  # noqa: BLE001 - answered, logged, and the socket stays open
            log.exception("request failed", extra={"type": type(msg).__name__})
            self._reply(m.Error(code="internal", message="the edge failed to handle this request", re=msg.id))

    def refuse(self, code: str, message: str, *, field: str = "", re: m.RequestId = None) -> None:
        """Answer a frame that could not be read (the transport calls this for what it cannot read)."""
        self._reply(self._unreadable(m.Error(code=code, message=message, field=field, re=re)))

    def _unreadable(self, error: m.Error) -> m.Error:
        """Log a malformed message: the first one of a socket at INFO, the others at DEBUG (a client
        cannot flood the log)."""
        self.malformed += 1
        log.log(logging.INFO if self.malformed == 1 else logging.DEBUG, "malformed client message refused",
                extra={"code": error.code, "field": error.field, "reason": error.message[:200],
                       "malformed": self.malformed})
        return error

    @staticmethod
    def _invalid(error: str, re: m.RequestId) -> m.Error:
        field = field_of(error)
        if field == "type" and error.startswith("Invalid value"):
            return m.Error(code="unknown_type", message=f"unknown message type: {error}", field="type", re=re)
        return m.Error(code="invalid", message=error, field=field, re=re)

    async def _dispatch(self, msg: m.ClientMessage) -> None:
        match msg:
            case m.Ping(t=t):
                self._reply(m.Pong(t=t, re=msg.id))
            case m.Join():
                await self._join(msg)
            case _ if self.seat is None:
                raise Refusal("not_joined", f"send join first ({type(msg).__name__.lower()} before join)", "type")
            case m.Leave():
                await self.seat.leave()
            case _:
                await self.seat.request(msg)

    # -- joining ----------------------------------------------------------------------------------
    async def _join(self, msg: m.Join) -> None:
        if self.seat is not None:
            raise Refusal("already_joined", "this socket has already joined", "type")
        if msg.resume_token:
            self._seated(await self.entry.resume(msg, self))
            return
        claims = self.claims
        if msg.token:
            try:
                claims = await self.verifier.verify(msg.token)
            except TokenError as exc:
                self._auth_failed(exc.code, str(exc), "token", msg.id)
                return
        if claims is None:
            raise Refusal("invalid", "join needs a token (or a resume_token)", "token")
        for given, where in ((msg.meeting_id, "meeting_id"), (self.url_meeting, "meeting")):
            if given and given != claims.mid:
                self._auth_failed("wrong_meeting", "the token is for another meeting", where, msg.id)
                return
        if not (msg.meeting_id or self.url_meeting):
            raise Refusal("invalid", "join needs the meeting id (meeting_id, or ?meeting= in the URL)",
                          "meeting_id")
        self._seated(await self.entry.join(claims, msg, self))

    def _seated(self, seat: Seat) -> None:
        self.seat = seat
        if self.gone:  # the socket dropped while joining: the place waits for a resume
            seat.detach(self)

    def _auth_failed(self, code: str, message: str, field: str, re: m.RequestId) -> None:
        self._reply(m.Error(code=code, message=message, field=field, re=re))
        self.close(CLOSE_AUTH, f"{code}: {message}")


class Signaling:
    """What both transports need to open sessions: the conference entry, the verifier, the limits."""

    def __init__(self, *, entry: Entry, verifier: Verifier, max_message_bytes: int, join_timeout: float,
                 idle_timeout: float, send_queue: int, allowed_origins: list[str]) -> None:
        self.entry, self.verifier = entry, verifier
        self.allowed_origins = allowed_origins
        self._limits = dict(max_message_bytes=max_message_bytes, join_timeout=join_timeout,
                            idle_timeout=idle_timeout, send_queue=send_queue)
        self.max_message_bytes = max_message_bytes

    def origin_allowed(self, origin: str | None) -> bool:
        """Browsers always send ``Origin``; other clients may omit it (they could forge it anyway)."""
        return not self.allowed_origins or origin is None or origin in self.allowed_origins

    def session(self, transport: Transport, *, url_meeting: str = "", claims: JoinClaims | None = None) -> Session:
        s = Session(transport, entry=self.entry, verifier=self.verifier, url_meeting=url_meeting, claims=claims,
                    **self._limits)
        s.start()
        return s
