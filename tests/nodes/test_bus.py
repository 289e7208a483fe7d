"""The bus's NATS connection survives a flush that gave up before its PONG came back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from nats.errors import FlushTimeoutError

from nodes.bus import Bus
from nodes.settings import NatsSettings
from tests.support.nats import NatsServer
from tests.support.util import eventually, eventually_sync


@contextlib.contextmanager
def paused(server: NatsServer) -> Iterator[None]:
    """The server process stopped: it reads and answers nothing until resumed."""
    assert server.proc is not None
    pid = server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        eventually_sync(lambda: all(_state(pid, t) == "T" for t in os.listdir(f"/proc/{pid}/task")),
                        what="every thread of nats-server stopped")
        yield
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


def _state(pid: int, tid: str) -> str:
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "T"    # a thread that has gone runs nothing


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    bus = Bus(NatsSettings(servers=[nats_server.url]), name="bus-test")
    await bus.start()
    await bus.wait_connected(10)
    yield bus
    await bus.close()


async def delivered(bus: Bus, listener: nats.NATS, subject: str) -> None:
    """A message the bus publishes reaches *listener*, and one *listener* publishes reaches the bus."""
    sub = await bus.nc.subscribe(subject + ".in")
    listen = await listener.subscribe(subject + ".out")
    try:
        await bus.nc.flush(timeout=10)   # both SUBs are at the server before anyone publishes
        await listener.flush(timeout=10)
        await bus.nc.publish(subject + ".out", b"from bus")
        assert (await listen.next_msg(timeout=5)).data == b"from bus"
        await listener.publish(subject + ".in", b"to bus")
        try:
            msg = await sub.next_msg(timeout=5)
        except nats.errors.TimeoutError:
            pytest.fail("the bus's connection stopped reading")
        assert msg.data == b"to bus"
    finally:
        await sub.unsubscribe()
        await listen.unsubscribe()


async def test_a_flush_that_timed_out_does_not_stop_the_connection(nats_server: NatsServer, bus: Bus) -> None:
    listener = await nats.connect(nats_server.url)
    try:
        with paused(nats_server):
            with pytest.raises(FlushTimeoutError):
                await bus.nc.flush(timeout=0.3)
        # The server answers the PING now; the PONG finds the flush's future cancelled.
        await delivered(bus, listener, "bus.after-timeout")
        assert bus.connected
    finally:
        await listener.close()


async def test_a_cancelled_flush_does_not_stop_the_connection(nats_server: NatsServer, bus: Bus) -> None:
    listener = await nats.connect(nats_server.url)
    try:
        with paused(nats_server):
            flushing = asyncio.get_running_loop().create_task(bus.nc.flush(timeout=10))
            await eventually(lambda: bus.nc._pongs, what="the PING sent")  # noqa: SLF001
            flushing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await flushing
        await delivered(bus, listener, "bus.after-cancel")
        assert bus.connected
    finally:
        await listener.close()
