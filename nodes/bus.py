"""The NATS connection every process holds.

:class:`Bus` connects in the background and keeps retrying with backoff, so a process starts and
answers ``/healthz`` even while NATS is away; ``/readyz`` follows :attr:`Bus.connected`. Work that
needs the connection (subscriptions, stream set-up) is registered with :meth:`Bus.on_connect` and
runs once the first connection is made; nats-py restores subscriptions itself after a reconnect.
:meth:`Bus.close` drains (in-flight messages are handled, then the connection closes) within
``drain_timeout``.

With ``tls://`` server URLs the connection is TLS, the server's certificate verified (chain to
``nats.tls.ca_file`` or the system's CAs, name matching the URL's host or ``server_name``). A
server that does not ask for TLS in its greeting is refused before anything — credentials above
all — is sent: nats-py would otherwise carry on unencrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from .natsclient import Client as SafeClient
from .settings import NatsSettings, NatsTlsSettings

log = logging.getLogger(__name__)

Hook = Callable[["Bus"], Awaitable[None]]


class TlsNotOffered(NatsError):
    """A server reached through a ``tls://`` URL greeted without requiring TLS."""


class TlsOnlyClient(SafeClient):
    """A client that refuses to go on in the clear when it was told to use TLS."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:  # noqa: FBT001
        if initial_connection and not info.get("tls_required"):
            raise TlsNotOffered(f"nats: the server {info.get('server_name') or info.get('server_id', '?')}"
                                " does not require TLS; nothing was sent")
        await super()._process_info(info, initial_connection)


def tls_context(settings: NatsTlsSettings) -> ssl.SSLContext:
    """The client side of TLS to NATS: verify the server (chain and name); our certificate if given."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_file or None)
        if settings.cert_file:
            context.load_cert_chain(settings.cert_file, settings.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"nats.tls: cannot load the CA file or the certificate and key: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Bus:
    def __init__(self, settings: NatsSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self._tls = tls_context(settings.tls) if settings.uses_tls else None
        self.nc: Client = self._client()
        self._hooks: list[Hook] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self.hooks_done = False
        #: Told (what, seconds, outcome) after each :meth:`request` — the process's metrics.
        self.on_request: Callable[[str, float, str], None] | None = None

    def _client(self) -> Client:
        return TlsOnlyClient() if self._tls is not None else SafeClient()

    # -- state --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(domain=self.settings.jetstream_domain)

    def on_connect(self, hook: Hook) -> None:
        """Run *hook* after the first connection (at once if already connected)."""
        self._hooks.append(hook)
        if self._ready.is_set():
            asyncio.get_running_loop().create_task(self._run_hook(hook))

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def request(self, subject: str, payload: bytes, *, timeout: float, what: str) -> Msg:
        """``nc.request``, timed: *what* names the kind of request for :attr:`on_request`
        (outcome ``ok``, ``timeout``, ``no_responders`` or ``error``); errors are nats-py's own."""
        started, outcome = time.monotonic(), "error"
        try:
            msg = await self.nc.request(subject, payload, timeout=timeout)
            outcome = "ok"
            return msg
        except NoRespondersError:
            outcome = "no_responders"
            raise
        except (NatsTimeoutError, TimeoutError):
            outcome = "timeout"
            raise
        finally:
            if self.on_request is not None:
                self.on_request(what, time.monotonic() - started, outcome)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._task = asyncio.get_running_loop().create_task(self._connect_loop(), name=f"bus-{self.name}")

    async def _connect_loop(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self.nc.connect(**self._connect_options())
                break
            except Exception as exc:  # noqa: BLE001 - every failure means "try again"
                log.warning("nats connect failed", extra={"error": repr(exc), "retry_in": round(delay, 2)})
                self.nc = self._client()
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
        if self._closing:
            return
        log.info("nats connected", extra={"server": str(self.nc.connected_url.netloc if self.nc.connected_url else "")})
        await self._open_reply_inbox()
        self._ready.set()
        for hook in list(self._hooks):
            await self._run_hook(hook)
        self.hooks_done = True

    async def _open_reply_inbox(self) -> None:
        """Subscribe to this connection's reply inbox now rather than at the first request.

        Across a leaf-node link, interest in a new subscription takes a moment to reach the other
        side; a reply sent back before it arrives is dropped, and the request times out. nats-py
        opens the inbox lazily, so the first request after start-up would race it.
        """
        init = getattr(self.nc, "_init_request_sub", None)
        if init is None or getattr(self.nc, "_resp_sub_prefix", True) is not None:
            return
        try:
            await init()
            await self.nc.flush(timeout=2)
        except Exception as exc:  # noqa: BLE001 - the first request will open it instead
            log.warning("reply inbox not opened early", extra={"error": repr(exc)})

    async def _run_hook(self, hook: Hook) -> None:
        delay = 0.2
        while not self._closing:
            try:
                await hook(self)
                return
            except Exception as exc:  # noqa: BLE001 - retried: a stream may not exist yet, etc.
                log.warning("bus set-up step failed", extra={"hook": getattr(hook, "__qualname__", str(hook)),
                                                              "error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _connect_options(self) -> dict[str, Any]:
        s = self.settings
        opts: dict[str, Any] = dict(
            servers=s.servers, name=self.name, connect_timeout=s.connect_timeout,
            allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            ping_interval=5, max_outstanding_pings=2, drain_timeout=s.drain_timeout,
            error_cb=self._on_error, disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        if s.inbox_prefix:
            opts["inbox_prefix"] = s.inbox_prefix
        if self._tls is not None:
            opts["tls"] = self._tls
            if s.tls.server_name:
                opts["tls_hostname"] = s.tls.server_name
        if s.nkey_seed:
            opts["nkeys_seed_str"] = s.nkey_seed
        elif s.user:
            opts["user"], opts["password"] = s.user, s.password or ""
        return opts

    async def _on_error(self, exc: Exception) -> None:
        servers = ", ".join(self.settings.servers)
        if isinstance(exc, ssl.SSLCertVerificationError):
            log.warning("nats certificate not verified", extra={"servers": servers, "error": exc.verify_message})
        elif isinstance(exc, TlsNotOffered):
            log.warning("nats server offers no tls", extra={"servers": servers, "error": str(exc)})
        else:
            log.warning("nats error", extra={"error": repr(exc)})

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")

    async def close(self) -> None:
        """Drain the connection (bounded by ``drain_timeout``) and stop retrying."""
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.nc.is_connected:
            try:
                await asyncio.wait_for(self.nc.drain(), self.settings.drain_timeout + 1)
            except Exception as exc:  # noqa: BLE001
                log.warning("nats drain incomplete", extra={"error": repr(exc)})
        if not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.close()
