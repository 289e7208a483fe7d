"""The process runner shared by the control plane and the edges.

``serve(app, …)`` runs an ASGI app under uvicorn on uvloop and owns the process lifecycle:

1. JSON logs on stderr;
2. the app's lifespan starts (it opens its NATS connection, database, … in an ``AsyncExitStack``);
3. once listening: ``READY=1`` to systemd (when ``NOTIFY_SOCKET`` is set) and ``WATCHDOG=1`` at half
   of ``WATCHDOG_USEC``;
4. SIGTERM or SIGINT: ``STOPPING=1``; if the app put an async ``before_stop`` on its state, it
   runs first (bounded by ``graceful_timeout``) — the edge uses it to refuse joins and tell its
   clients while their sockets are still open; then uvicorn stops accepting and gives open requests
   ``graceful_timeout`` seconds, and the app's lifespan closes its stack in reverse order — NATS is
   drained last-in-first-out with the rest.

The exit code is 0 after an orderly stop; when start-up fails (the app's lifespan raised, or the
port is taken) it is uvicorn's 3, or 1 if the server ended without saying.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from . import logs, memory, sdnotify
from .settings import HttpSettings, LogSettings
from .websocket import WS_MAX_BYTES, WebSocketProtocol

log = logging.getLogger("nodes.runner")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runner decides when to stop."""

    exit_code: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve(self, sockets: Any = None) -> None:
        try:
            await super().serve(sockets)
        except SystemExit as exc:  # uvicorn's way of saying start-up failed; keep it in the task
            self.exit_code = int(exc.code or 1)


def serve(app: Any, *, service: str, http: HttpSettings, logging_: LogSettings | None = None) -> int:
    lg = logging_ or LogSettings()
    logs.configure(service, lg.level, lg.format)
    try:
        import uvloop
        return uvloop.run(_serve(app, service, http))
    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C
        return 130


def uvicorn_config(app: Any, http: HttpSettings, **overrides: Any) -> uvicorn.Config:
    """How the runner serves *app* (tests serve the real apps the same way): WebSockets on
    :class:`~nodes.websocket.WebSocketProtocol`, messages up to :data:`~nodes.websocket.WS_MAX_BYTES`."""
    options: dict[str, Any] = {
        "host": http.host, "port": http.port, "log_config": None, "access_log": False, "lifespan": "on",
        "timeout_graceful_shutdown": http.graceful_timeout, "ws": WebSocketProtocol, "ws_max_size": WS_MAX_BYTES,
        "server_header": False}
    options.update(overrides)
    return uvicorn.Config(app, **options)


async def _serve(app: Any, service: str, http: HttpSettings) -> int:
    loop = asyncio.get_running_loop()
    notifier = sdnotify.Notifier.from_env()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    memory.install(loop, service)  # only when CC_MEMORY_SNAPSHOTS asks for it

    server = _Server(uvicorn_config(app, http))
    task = loop.create_task(server.serve(), name="http")
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done() or not server.started:
        try:
            await task
        except Exception as exc:  # noqa: BLE001
            log.error("start-up failed", extra={"error": repr(exc)})
            return 1
        log.error("start-up failed", extra={"exit_code": server.exit_code or 1})
        return server.exit_code or 1

    url = f"http://{http.host}:{http.port}"
    log.info("listening", extra={"url": url})
    notifier.ready(f"{service} listening on {url}")
    watchdog = None
    interval = sdnotify.watchdog_interval()
    if interval:
        watchdog = loop.create_task(_watchdog(notifier, interval), name="watchdog")

    stopper = loop.create_task(stop.wait())
    await asyncio.wait({stopper, task}, return_when=asyncio.FIRST_COMPLETED)
    notifier.stopping()
    log.info("stopping", extra={"reason": "signal" if stop.is_set() else "server exited"})
    before_stop = getattr(getattr(app, "state", None), "before_stop", None)
    if before_stop is not None and not task.done():
        try:
            await asyncio.wait_for(before_stop(), http.graceful_timeout)
        except Exception as exc:  # noqa: BLE001 - stopping goes on whatever happened
            log.warning("before-stop step failed", extra={"error": repr(exc)})
    server.should_exit = True
    with contextlib.suppress(Exception):
        await task
    stopper.cancel()
    if watchdog:
        watchdog.cancel()
    notifier.close()
    log.info("stopped")
    return 0


async def _watchdog(notifier: sdnotify.Notifier, interval: float) -> None:
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)


def main(argv: list[str] | None, *, prog: str, description: str | None, schema: type,
         create_app: Any, service: Any) -> int:
    """``python -m <prog> --config FILE``: load settings (a bad file exits 2 naming the file and
    field), build the app and serve it. *service* names the process from its settings."""
    import argparse

    from . import settings as settings_mod

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", "-c", required=True, help="TOML settings file")
    args = parser.parse_args(argv)
    try:
        settings: Any = settings_mod.load(args.config, schema)
    except settings_mod.SettingsError as exc:
        fail(str(exc))
    metrics = getattr(settings, "metrics", None)
    if metrics is not None and metrics.enabled and metrics.port:
        from .metrics import port_problem
        problem = port_problem(metrics.host, metrics.port)
        if problem:
            fail(f"{args.config}: cannot listen for metrics on {metrics.host}:{metrics.port}: {problem}"
                 " - at `$.metrics.port`")
    return serve(create_app(settings), service=service(settings), http=settings.http, logging_=settings.log)


def fail(message: str, code: int = 2) -> NoReturn:  # type: ignore[name-defined]  # noqa: F821
    """Print a start-up error (bad config, missing file) plainly and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
