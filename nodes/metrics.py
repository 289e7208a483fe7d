"""Prometheus metrics for every process: a registry per app, the event-loop lag, an optional port.

Each app builds one :class:`Metrics` in its ``create_app`` (nothing global: two apps in one
process keep their figures apart) and serves :meth:`Metrics.render` at ``GET /metrics`` on its
HTTP port, or, with ``[metrics] port`` set, on a port of its own bound to ``[metrics] host``
(then the HTTP port answers 404 there). Every name starts with ``cc_``. The figures a process
already keeps (participants, packets forwarded, …) are read when Prometheus scrapes, by collectors
the app registers (:class:`Gathered`), so nothing is added to the forwarding path.

Every process exports, besides its own figures:

* ``cc_process_*`` — CPU seconds, resident memory, open file descriptors (prometheus_client's
  process collector, under the ``cc`` namespace);
* ``cc_event_loop_lag_seconds`` — a histogram of how late a timer set for every
  ``LAG_INTERVAL`` seconds fired: the time the event loop was too busy to run anything else;
* ``cc_build_info{service, version}`` — always 1.

``/metrics`` needs no sign-in (Prometheus does not sign in): keep it off the public network —
the separate port on an internal address, or a firewall (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated

import msgspec
from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import Metric

from . import __version__
from .settings import Base

log = logging.getLogger(__name__)

#: What ``GET /metrics`` answers with: the Prometheus text format, 0.0.4, which every Prometheus
#: reads (the web framework adds ``; charset=utf-8``).
CONTENT_TYPE = "text/plain; version=0.0.4"
#: Seconds between two event-loop lag measurements.
LAG_INTERVAL = 0.25
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class MetricsSettings(Base, kw_only=True):
    """``[metrics]``: Prometheus metrics at ``/metrics``."""

    #: Serve ``/metrics`` at all (off: 404, and no lag measurement).
    enabled: bool = True
    #: 0: on the process's own HTTP port. Another number: on this port alone, bound to ``host``
    #: (the HTTP port then answers 404 at ``/metrics``).
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    #: The address the separate port listens on (only with ``port`` set).
    host: str = "127.0.0.1"


class Gathered:
    """A collector whose figures come from *gather* when the registry is scraped.

    *gather* yields ``prometheus_client`` metric families (``GaugeMetricFamily``, …); an
    exception there is logged and that collector's figures are left out of that scrape, so a
    broken figure never breaks the others.
    """

    def __init__(self, gather: Callable[[], Iterable[Metric]]) -> None:
        self.gather = gather

    def describe(self) -> list[Metric]:
        return []  # figures are read at scrape time only (the objects behind them come later)

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self.gather())
        except Exception:  # noqa: BLE001 - one broken figure must not break the scrape
            log.exception("metrics collector failed")
            return iter(())
        return iter(families)


class Metrics:
    """One process's registry and what every process exports."""

    def __init__(self, settings: MetricsSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(namespace="cc", registry=self.registry)
        info = Gauge("cc_build_info", "Always 1: the service and the version running", ["service", "version"],
                     registry=self.registry)
        info.labels(service, __version__).set(1)
        self.loop_lag = Histogram("cc_event_loop_lag_seconds", "How late the event loop ran a timer (busy time)",
                                  buckets=LAG_BUCKETS, registry=self.registry)
        self._lag_task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None

    # -- what the app calls --------------------------------------------------------------------------
    def add(self, gather: Callable[[], Iterable[Metric]]) -> None:
        """Register figures read at scrape time (see :class:`Gathered`)."""
        self.registry.register(Gathered(gather))

    @property
    def on_http_port(self) -> bool:
        """Whether the process's HTTP port serves ``/metrics``."""
        return self.settings.enabled and not self.settings.port

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def start(self) -> None:
        """Measure the event loop's lag; open the separate port when one is set."""
        if not self.settings.enabled:
            return
        loop = asyncio.get_running_loop()
        self._lag_task = loop.create_task(self._measure_lag(), name="metrics-loop-lag")
        if self.settings.port:
            self._server = await asyncio.start_server(self._serve, self.settings.host, self.settings.port)
            log.info("metrics listening", extra={"url": f"http://{self.settings.host}:{self.settings.port}/metrics"})

    async def stop(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
            self._lag_task = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    # -- inside ------------------------------------------------------------------------------------
    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            fired = loop.create_future()
            expected = loop.time() + LAG_INTERVAL
            handle = loop.call_at(expected, _wake, fired)
            try:
                await fired
            finally:
                handle.cancel()
            self.loop_lag.observe(max(loop.time() - expected, 0.0))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A minimal HTTP/1.0 answer: ``GET /metrics`` or 404, then close."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = head.split(b"\r\n", 1)[0].split()
            path = parts[1].split(b"?", 1)[0] if len(parts) >= 2 else b""
            if len(parts) >= 2 and parts[0] in (b"GET", b"HEAD") and path == b"/metrics":
                body = self.render()
                status, ctype = b"200 OK", CONTENT_TYPE.encode() + b"; charset=utf-8"
                if parts[0] == b"HEAD":
                    writer.write(_head(status, ctype, len(body)))
                else:
                    writer.write(_head(status, ctype, len(body)) + body)
            else:
                body = b"not found: metrics are at /metrics\n"
                writer.write(_head(b"404 Not Found", b"text/plain; charset=utf-8", len(body)) + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def port_problem(host: str, port: int) -> str:
    """Why *host*:*port* cannot be listened on ("" when it can): checked before the process starts,
    so a taken port is one clear line rather than a failed start-up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def _wake(fired: asyncio.Future[None]) -> None:
    if not fired.done():
        fired.set_result(None)


def _head(status: bytes, content_type: bytes, length: int) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: "
            + str(length).encode() + b"\r\nConnection: close\r\n\r\n")


__all__ = ["CONTENT_TYPE", "Gathered", "Metrics", "MetricsSettings"]
