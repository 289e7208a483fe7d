from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from nodes.streams import ensure_events_stream
from tests.edge.edge_support import EdgeServer, TokenKit, edge_settings


@pytest.fixture
def tokens() -> TokenKit:
    return TokenKit()


@pytest.fixture
async def nc(nats_server) -> AsyncIterator[nats.NATS]:
    """A client of the test's nats-server, with the events stream declared (as the control plane would)."""
    client = await nats.connect(nats_server.url)
    await ensure_events_stream(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def edge(tmp_path: Path, nats_server, nc, tokens: TokenKit) -> AsyncIterator[EdgeServer]:
    """The real edge app under uvicorn, keys from a JWKS file, connected to a real nats-server."""
    jwks = tokens.write(tmp_path / "jwks.json")
    async with EdgeServer(edge_settings(nats_server.url, jwks_file=str(jwks))) as server:
        await server.node.bus.wait_connected(10)
        yield server


@pytest.fixture
def make_edge(tmp_path: Path, nats_server, nc, tokens: TokenKit):  # noqa: ANN201
    """``make_edge(**sections)``: an edge with settings overrides, e.g. ``signaling={"resume_grace": 1}``."""
    jwks = tokens.write(tmp_path / "jwks.json")

    def make(**sections) -> EdgeServer:  # noqa: ANN003
        sections.setdefault("auth", {}).setdefault("jwks_file", str(jwks))
        return EdgeServer(edge_settings(nats_server.url, **sections))

    return make


TURN_SECRET = "turn-shared-secret-for-tests-only"


@pytest.fixture
def coturn(tmp_path: Path):  # noqa: ANN201
    """A real coturn ``turnserver`` (use-auth-secret, TURN over UDP, TCP and TLS) owned by the test."""
    from tests.support.tls import Ca
    from tests.support.turn import Coturn, host_address, turnserver_available
    from tests.support.util import require

    require(turnserver_available(), "coturn (apt-get install coturn)")
    ca = Ca(tmp_path / "turn-ca")
    server = Coturn(tmp_path / "turn", TURN_SECRET, tls=ca.issue("turn", (host_address(),)))
    server.ca_file = ca.cert_file  # type: ignore[attr-defined]
    with server:
        yield server
