"""NATS permissions: each node has its own user; an edge cannot publish control-plane commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError

from nodes import subjects, wire
from tests.support.nats import nats_server_path
from tests.support.topology import PASSWORD, Topology
from tests.support.util import eventually, require


@pytest.fixture
def topo(tmp_path: Path):
    require(nats_server_path() is not None, "nats-server")
    t = Topology(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]}).start()
    try:
        yield t
    finally:
        t.stop()


async def connect(opts: dict, errors: list[Exception]) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        errors.append(exc)
    return await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                              inbox_prefix=opts["inbox_prefix"], error_cb=on_error, allow_reconnect=False)


async def test_edge_cannot_publish_commands_but_can_heartbeat(topo: Topology) -> None:
    cp_errors: list[Exception] = []
    edge_errors: list[Exception] = []
    cp = await connect(topo.control_plane_nats(), cp_errors)
    edge = await connect(topo.edge_nats("eu-1"), edge_errors)
    try:
        got: list[str] = []

        async def record(msg) -> None:  # noqa: ANN001
            got.append(msg.subject)

        await cp.subscribe("cc.>", cb=record)
        await cp.flush()
        # Heartbeats cross the leaf link to the hub.
        hb = wire.EdgeHeartbeat(edge_id="eu-1", region="eu", public_url="ws://x")

        async def heartbeat_arrives() -> bool:
            await edge.publish(subjects.edge_heartbeat("eu-1"), wire.encode(hb))
            await asyncio.sleep(0.05)
            return subjects.edge_heartbeat("eu-1") in got

        await eventually(heartbeat_arrives, timeout=10, what="heartbeat reaches the hub")
        # A command published by an edge is refused by the server.
        await edge.publish(subjects.command("m1", "kick"),
                           wire.encode(wire.Kick(meeting_id="m1", participant_id="p1")))
        await edge.flush()
        await eventually(lambda: any("permissions violation for publish" in str(e).lower() and "cc.cmd.m1.kick" in str(e)
                                     for e in edge_errors), timeout=5, what="permissions violation reported")
        # ... and another edge's heartbeat subject too.
        await edge.publish(subjects.edge_heartbeat("us-1"), wire.encode(hb))
        await edge.flush()
        await eventually(lambda: any("cc.edge.us-1.heartbeat" in str(e) for e in edge_errors), timeout=5,
                         what="impersonation refused")
        await asyncio.sleep(0.3)
        assert "cc.cmd.m1.kick" not in got and "cc.edge.us-1.heartbeat" not in got
        # The control plane may send commands; the edge (on its leaf) receives them and may reply.
        async def handler(msg):  # noqa: ANN001
            await msg.respond(wire.encode(wire.CommandReply(command_id="c1", ok=True, edge_id="eu-1")))
        await edge.subscribe(subjects.meeting_commands("m1"), cb=handler)
        await edge.flush()
        reply = None
        for _ in range(50):
            try:
                reply = await cp.request(subjects.command("m1", "mute"),
                                         wire.encode(wire.Mute(meeting_id="m1", participant_id="p1")), timeout=2)
                break
            except (NoRespondersError, nats.errors.TimeoutError):
                # The edge's subscription, or the control plane's reply inbox, has not crossed the
                # leaf link yet.
                await asyncio.sleep(0.1)
        assert reply is not None and wire.reply_decoder.decode(reply.data).ok
        assert not cp_errors
    finally:
        await edge.close()
        await cp.close()


async def test_wrong_password_and_unknown_user_are_refused(topo: Topology) -> None:
    opts = topo.edge_nats("eu-1")
    with pytest.raises(Exception, match="[Aa]uthorization"):
        await nats.connect(servers=opts["servers"], user="edge-eu-1", password="wrong", allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)
    with pytest.raises(Exception, match="[Aa]uthorization"):
        await nats.connect(servers=opts["servers"], user="intruder", password=PASSWORD, allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)


async def test_an_edge_cannot_publish_under_another_edge_s_id(topo: Topology) -> None:
    """Events, mesh messages and relay requests name their sender in the subject, and each edge's
    user may publish only under its own id: the server refuses the rest, and nothing is delivered."""
    cp_errors: list[Exception] = []
    edge_errors: list[Exception] = []
    cp = await connect(topo.control_plane_nats(), cp_errors)
    edge = await connect(topo.edge_nats("eu-1"), edge_errors)
    try:
        got: list[tuple[str, bytes]] = []

        async def record(msg) -> None:  # noqa: ANN001
            got.append((msg.subject, msg.data))

        await cp.subscribe("cc.>", cb=record)
        await cp.flush()
        own = subjects.mesh("m1", "eu-1", "state")

        def arrives(marker: bytes) -> Callable[[], Awaitable[bool]]:
            """Publish the edge's own mesh message *marker* (again) until the hub has it."""
            async def probe() -> bool:
                await edge.publish(own, marker)
                return (own, marker) in got
            return probe

        await eventually(arrives(b'{"marker":1}'), timeout=10, what="the edge's own mesh message reaches the hub")
        forged = [subjects.event("us-1", "m1", "ended"), subjects.mesh("m1", "us-1", "signal"),
                  subjects.relay("eu-1", "us-1", "want"), subjects.relay("us-1", "us-2", "offer")]
        end = wire.MeshEnd(meeting_id="m1", edge_id="us-1", by="intruder")
        for subject in forged:
            await edge.publish(subject, wire.encode(end))
        await edge.flush()
        def refused(subject: str) -> bool:
            return any("permissions violation for publish" in str(e).lower() and subject in str(e)
                       for e in edge_errors)

        for subject in forged:
            await eventually(lambda s=subject: refused(s), timeout=5, what=f"{subject} refused")
        # a marker published after the forgeries arrives: the forgeries had their chance and did not
        await eventually(arrives(b'{"marker":2}'), timeout=10, what="a later message of its own arrives")
        assert not set(forged) & {subject for subject, _ in got}, got
        # nor may an edge listen to the relay requests addressed to another edge
        await edge.subscribe(subjects.relay_inbox("us-1"))
        await edge.flush()
        await eventually(lambda: any("permissions violation for subscription" in str(e).lower()
                                     and "cc.relay.e.us-1" in str(e) for e in edge_errors),
                         timeout=5, what="subscription to another edge's relay inbox refused")
        assert not cp_errors
    finally:
        await edge.close()
        await cp.close()
