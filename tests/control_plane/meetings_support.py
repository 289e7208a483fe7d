"""Helpers for the meetings tests: accounts signed in over HTTP, a control plane on a real
nats-server, and edges that heartbeat, answer commands and publish events on that server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client

from nodes import subjects, wire
from nodes.claims import KeySet
from tests.control_plane.conftest import ControlPlane
from tests.support.util import eventually

PASSWORD = "a-long-test-password"


async def bearer(cp: ControlPlane, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in over HTTP for a bearer token (no CSRF needed)."""
    r = await cp.client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def user(cp: ControlPlane, username: str, role: str = "member") -> dict[str, str]:
    """A local account with *role*, signed in; returns its auth headers."""
    await cp.add_account(username, PASSWORD, role)
    return await bearer(cp, username)


async def admin(cp: ControlPlane) -> dict[str, str]:
    return await bearer(cp, "admin", cp.admin_password)


def field_names(r) -> list[str]:  # noqa: ANN001
    return [f["field"] for f in r.json().get("fields", [])]


async def create_meeting(cp: ControlPlane, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await cp.client.post("/api/v1/meetings", json={"title": "Weekly sync", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def keyset(cp: ControlPlane) -> KeySet:
    return KeySet.from_jwks(cp.services.tokens.keys.jwks())


def nats_overrides(url: str, **extra: Any) -> dict[str, Any]:
    """Settings for a control plane on the real nats-server at *url* (short edge TTL for quick tests)."""
    return {"nats": {"servers": [url]}, "edges": {"ttl": 1.0, "sweep_interval": 0.1}, **extra}


async def wait_ready(cp: ControlPlane) -> None:
    s = cp.services
    await eventually(lambda: s.bus.connected and s.placement.ready and s.events.running and s.bus.hooks_done,
                     timeout=10, what="control plane connected to NATS with placement and events ready")


@contextlib.asynccontextmanager
async def nats_client(url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(url, name="test")
    try:
        yield nc
    finally:
        await nc.drain()


@dataclass
class FakeEdge:
    """An edge as the control plane sees it over NATS: heartbeats, command replies, events.

    It publishes real :class:`nodes.wire.EdgeHeartbeat` messages and answers real commands; the
    media side is not involved.
    """

    nc: Client
    edge_id: str
    region: str = "local"
    cpu_pct: float = 0.0
    interval: float = 0.2
    #: Commands received, decoded.
    commands: list[wire.Command] = field(default_factory=list)
    #: Reply to give: a function of the command (default: ok).
    answer: Callable[[Any], wire.CommandReply | None] | None = None
    _task: asyncio.Task[None] | None = None
    _subs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://{self.edge_id}.test/ws"

    def heartbeat(self) -> wire.EdgeHeartbeat:
        return wire.EdgeHeartbeat(edge_id=self.edge_id, region=self.region, public_url=self.url,
                                  cpu_pct=self.cpu_pct, interval=self.interval)

    async def start(self) -> "FakeEdge":
        await self.nc.publish(subjects.edge_heartbeat(self.edge_id), wire.encode(self.heartbeat()))

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.interval)
                await self.nc.publish(subjects.edge_heartbeat(self.edge_id), wire.encode(self.heartbeat()))

        self._task = asyncio.get_running_loop().create_task(beat())
        return self

    async def stop(self) -> None:
        """Stop heartbeating (like a crashed edge: no goodbye)."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    async def host(self, meeting_id: str) -> None:
        """Answer commands for *meeting_id*, as an edge hosting it does."""

        async def on_command(msg) -> None:  # noqa: ANN001
            cmd = wire.command_decoder.decode(msg.data)
            self.commands.append(cmd)
            reply = self.answer(cmd) if self.answer else None
            if reply is None:
                reply = wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
            if reply is not False:
                await msg.respond(wire.encode(reply))

        self._subs.append(await self.nc.subscribe(subjects.meeting_commands(meeting_id), cb=on_command))
        await self.nc.flush()

    async def publish(self, event: wire.Event, *, msg_id: str | None = None) -> None:
        """Publish *event* to the events stream, with ``Nats-Msg-Id`` (default: its event id)."""
        js = self.nc.jetstream()
        subject = subjects.event(event.meeting_id, wire.EVENT_KIND[type(event)])
        await js.publish(subject, wire.encode(event), headers={"Nats-Msg-Id": msg_id or event.event_id})


async def wait_edges(cp: ControlPlane, *edge_ids: str) -> None:
    await eventually(lambda: all(cp.services.edges.get(e) is not None for e in edge_ids), timeout=5,
                     what=f"edges {edge_ids} live")
