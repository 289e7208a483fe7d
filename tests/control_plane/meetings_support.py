"""Helpers for the meetings tests: accounts signed in over HTTP, a control plane on a real
nats-server, and edges that heartbeat, answer commands and publish events on that server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import nats
import pytest_asyncio
from litestar.testing.transport import TestClientTransport
from nats.aio.client import Client

from control_plane.placement.choose import Placement
from nodes import subjects, wire
from nodes.claims import KeySet
from tests.control_plane.conftest import BASE_URL, ControlPlane
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


class _FromAddress(TestClientTransport):
    """The test client's transport (requests run on the app's own loop), from another client address."""

    def __init__(self, client: Any, address: str) -> None:
        super().__init__(client=client, raise_server_exceptions=True)
        self.address = address

    def parse_request(self, request: httpx.Request) -> dict[str, Any]:
        scope = super().parse_request(request)
        scope["client"] = (self.address, 50000)
        return scope

    async def __aenter__(self) -> _FromAddress:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def aclose(self) -> None:
        return None


def client_at(cp: ControlPlane, address: str) -> httpx.AsyncClient:
    """A client without a session whose requests come from *address* (use ``async with``)."""
    return httpx.AsyncClient(base_url=BASE_URL, transport=_FromAddress(cp.client, address))


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


async def place(url: str, meeting_id: str, edge_id: str, region: str = "local") -> None:
    """Record *meeting_id* as placed on *edge_id* (its home and its region's site) in the placement
    bucket, the entry a join would write: the control plane applies only events from edges a
    meeting is placed on."""
    async with nats_client(url) as nc:
        kv = await nc.jetstream().key_value(subjects.PLACEMENT_BUCKET)
        entry = Placement(edge_id=edge_id, region=region, epoch=1, sites={region: edge_id})
        await kv.put(meeting_id, msgspec.json.encode(entry))


class FakeEdge:
    """An edge as the control plane sees it over NATS: heartbeats, command replies, events.

    It runs on its own thread and event loop with its own NATS connection, like a separate
    process: the in-process test client blocks the test's loop while a request is handled, and
    an edge must keep heartbeating and answering meanwhile. It publishes real
    :class:`nodes.wire.EdgeHeartbeat` messages, answers real commands and publishes real events
    to the stream; the media side is not involved.
    """

    def __init__(self, url: str, edge_id: str, *, region: str = "local", cpu_pct: float = 0.0,
                 interval: float = 0.2, **connect: Any) -> None:
        self.nats_url, self.edge_id, self.region, self.cpu_pct, self.interval = url, edge_id, region, cpu_pct, interval
        #: Extra ``nats.connect`` options (user, password, inbox_prefix, …).
        self.connect_options = {"reconnect_time_wait": 0.1, **connect}
        #: Start time of this edge instance, as its heartbeats report it.
        self.started_at = time.time()
        #: Commands received, decoded.
        self.commands: list[Any] = []
        #: The reply to give, as a function of the command: None means ok, False means no reply.
        self.answer: Callable[[Any], wire.CommandReply | None | bool] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"edge-{edge_id}", daemon=True)
        self._thread.start()
        self._nc: Client | None = None
        self._beat: asyncio.Task[None] | None = None
        self._subs: list[Any] = []

    @property
    def url(self) -> str:
        return f"ws://{self.edge_id}.test/ws"

    async def _run(self, coro: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def heartbeat(self) -> wire.EdgeHeartbeat:
        return wire.EdgeHeartbeat(edge_id=self.edge_id, region=self.region, public_url=self.url,
                                  cpu_pct=self.cpu_pct, interval=self.interval, started_at=self.started_at)

    async def connect(self) -> FakeEdge:
        async def go() -> None:
            self._nc = await nats.connect(self.nats_url, name=f"edge-{self.edge_id}", **self.connect_options)
        await self._run(go())
        return self

    async def start(self) -> FakeEdge:
        """Connect and heartbeat every ``interval`` seconds."""
        if self._nc is None:
            await self.connect()

        async def beat() -> None:
            while True:
                await self._nc.publish(subjects.edge_heartbeat(self.edge_id), wire.encode(self.heartbeat()))
                await asyncio.sleep(self.interval)

        async def go() -> None:
            self._beat = asyncio.get_running_loop().create_task(beat())
        await self._run(go())
        return self

    async def stop(self) -> None:
        """Stop heartbeating and answering (like a crashed edge: no goodbye)."""
        async def go() -> None:
            if self._beat is not None:
                self._beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._beat
                self._beat = None
            for sub in self._subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            self._subs.clear()
            if self._nc is not None:
                await self._nc.flush()
        await self._run(go())

    async def close(self) -> None:
        await self.stop()

        async def go() -> None:
            if self._nc is not None:
                await self._nc.close()
        await self._run(go())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def host(self, meeting_id: str) -> None:
        """Answer commands for *meeting_id*, as an edge hosting it does."""

        async def on_command(msg) -> None:  # noqa: ANN001
            cmd = wire.command_decoder.decode(msg.data)
            self.commands.append(cmd)
            reply = self.answer(cmd) if self.answer else None
            if reply is False:
                return
            if reply is None:
                reply = wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
            await msg.respond(wire.encode(reply))

        async def go() -> None:
            self._subs.append(await self._nc.subscribe(subjects.meeting_commands(meeting_id), cb=on_command))
            await self._nc.flush()
        await self._run(go())

    async def publish(self, event: wire.Event, *, msg_id: str | None = None) -> None:
        """Publish *event* to the events stream with ``Nats-Msg-Id`` (default: its event id)."""
        subject = subjects.event(event.edge_id, event.meeting_id, wire.EVENT_KIND[type(event)])

        async def go() -> None:
            await self._nc.jetstream().publish(subject, wire.encode(event),
                                               headers={"Nats-Msg-Id": msg_id or event.event_id})
        await self._run(go())

    async def publish_raw(self, subject: str, data: bytes) -> None:
        async def go() -> None:
            await self._nc.publish(subject, data)
            await self._nc.flush()
        await self._run(go())


@pytest_asyncio.fixture
async def edges(nats_server) -> AsyncIterator[Callable[..., Awaitable[FakeEdge]]]:  # noqa: ANN001
    """``edge = await edges("edge-a", region="eu")``: a heartbeating :class:`FakeEdge`, closed after the test.
    ``heartbeat=False`` only connects (to publish events or answer commands)."""
    made: list[FakeEdge] = []

    async def make(edge_id: str, *, heartbeat: bool = True, **kw: Any) -> FakeEdge:
        edge = FakeEdge(nats_server.url, edge_id, **kw)
        made.append(edge)
        return await (edge.start() if heartbeat else edge.connect())

    yield make
    for edge in made:
        await edge.close()


async def wait_edges(cp: ControlPlane, *edge_ids: str) -> None:
    await eventually(lambda: all(cp.services.edges.get(e) is not None for e in edge_ids), timeout=5,
                     what=f"edges {edge_ids} live")
