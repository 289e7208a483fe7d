"""An edge process stopped with SIGTERM: clients are told, participants leave with reason
``edge_stopped`` (events published before NATS is drained), the edge says goodbye and exits 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import nats

from nodes import subjects, wire
from tests.edge.edge_support import EDGE, Client, TokenKit
from tests.edge.test_events import kinds, stream_events
from tests.support import procs
from tests.support.util import eventually


async def test_sigterm_drains_the_edge(tmp_path: Path, nats_server, nc: nats.NATS, tokens: TokenKit) -> None:
    jwks = tokens.write(tmp_path / "jwks.json")
    edge = procs.edge(tmp_path, nats_server.url, EDGE, auth={"jwks_file": str(jwks)},
                      heartbeat={"interval": 0.5}).start()
    gone: list[wire.EdgeGone] = []
    beats: list[wire.EdgeHeartbeat] = []

    async def on_gone(msg) -> None:  # noqa: ANN001
        gone.append(wire.registry_decoder.decode(msg.data))

    async def on_beat(msg) -> None:  # noqa: ANN001
        beats.append(wire.registry_decoder.decode(msg.data))

    await nc.subscribe(subjects.edge_gone(EDGE), cb=on_gone)
    await nc.subscribe(subjects.edge_heartbeat(EDGE), cb=on_beat)
    try:
        async with httpx.AsyncClient() as http:
            async def ready() -> bool:
                try:
                    return (await http.get(edge.base_url + "/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False
            await eventually(ready, timeout=20, what="edge ready")
        url = f"ws://127.0.0.1:{edge.port}/ws"
        a, b = await Client.open(url), await Client.open(url)
        assert (await a.join(tokens.sign(name="Ada")))["type"] == "joined"
        assert (await b.join(tokens.sign(name="Bob")))["type"] == "joined"
        await eventually(lambda: beats and beats[-1].participants == 2, what="heartbeat counts both")

        edge.signal(signal.SIGTERM)
        for c in (a, b):
            code, _ = await c.closed(timeout=15)
            assert code in (1012, 4014)             # the HTTP server's "restarting", or the edge's own
        assert await asyncio.to_thread(edge.proc.wait, 20) == 0
        events = await stream_events(nc)
        assert kinds(events) == ["started", "joined", "joined", "left", "left"]
        assert {e.reason for _, e in events[3:]} == {"edge_stopped"}
        assert [g.edge_id for g in gone] == [EDGE]
        assert "events not published" not in edge.log()
    finally:
        edge.kill()


async def test_draining_refuses_joins_and_tells_the_clients(edge, tokens: TokenKit) -> None:  # noqa: ANN001
    a = await Client.open(edge.ws_url())
    assert (await a.join(tokens.sign(name="Ada")))["type"] == "joined"
    await edge.app.state.before_stop()
    assert (await a.expect("draining"))["reason"] == "edge stopping"
    late = await Client.open(edge.ws_url())
    await late.send({"type": "join", "token": tokens.sign(name="Late"), "meeting_id": "meet-1"})
    assert "stopping" in (await late.error("draining"))["message"]
    async with httpx.AsyncClient() as http:
        ready = (await http.get(edge.http_url + "/readyz")).json()
    assert ready["checks"]["draining"] is True and ready["status"] == "not ready"
    assert edge.node.heartbeat.message().draining is True
    await a.send({"type": "chat", "text": "still here"})       # those already in carry on meanwhile
    await a.expect("chat", text="still here")
