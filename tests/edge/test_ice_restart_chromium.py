"""ICE restart in place with a real browser: Chromium calls ``restartIce()`` on its publish PC and
sends the offer it then makes; the edge answers with new credentials and restarts the subscribe PC
with its next offer, which Chromium answers with new credentials of its own. Media keeps flowing
both ways with an aiortc participant, on the same peer connections and tracks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.edge_support import MEETING, EdgeServer, TokenKit, joined_client
from tests.edge.test_media import MediaClient
from tests.support.browser import chromium_path, close, launch, playwright_available
from tests.support.util import eventually, require

PAGE_JS = Path(__file__).with_name("restart_page.js")


async def _serve_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The test page over HTTP on 127.0.0.1 (a secure context, in the edge's own address space)."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await reader.readuntil(b"\r\n\r\n")
        body = f"<!doctype html><title>restart</title><script>{PAGE_JS.read_text()}</script>".encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
    writer.close()


@pytest.fixture
async def page() -> AsyncIterator[object]:
    require(playwright_available(), "playwright for Python (pip install playwright)")
    require(chromium_path() is not None, "Chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    server = await asyncio.start_server(_serve_page, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, async_playwright() as pw:
        context = await launch(pw)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            yield page
        finally:
            await close(context)


async def test_chromium_restarts_ice_in_place(edge: EdgeServer, tokens: TokenKit, page,  # noqa: ANN001
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.sfu")
    bob = MediaClient(await joined_client(edge, tokens.sign(name="Bob")))
    try:
        await bob.publish()
        alice = await page.evaluate("([u, t, m]) => restartClient(u, t, m)",
                                    [edge.ws_url(), tokens.sign(name="Alice"), MEETING])

        def from_alice() -> int:
            return sum(n for mid, n in bob.frames.items()
                       if bob.kinds[mid] == "video" and bob.msid.get(mid, ("",))[0] == alice["participant_id"])

        async def stats() -> dict:
            return await page.evaluate("() => ccStats()")

        async def decoded_by_chromium() -> int:
            return (await stats()).get("sub", {}).get("framesDecoded", 0)

        async def both_flow(bob_from: int, chromium_from: int) -> None:
            await eventually(lambda: from_alice() >= bob_from + 30, timeout=60, interval=0.3,
                             what="Bob decodes Chromium's camera")
            await eventually(lambda: _at_least(decoded_by_chromium, chromium_from + 30), timeout=60, interval=0.3,
                             what="Chromium decodes Bob's camera")

        await both_flow(0, 0)
        before = await stats()
        seen = len(await page.evaluate("() => cc.messages.map(m => m.type)"))
        room = edge.node.conference.meetings[MEETING].room
        tracks = {t.track_id for t in room.tracks()}

        await page.evaluate("() => restartIce()")

        async def restarted() -> bool:
            s = await stats()
            return all(s[pc]["localUfrag"] != before[pc]["localUfrag"] and
                       s[pc]["remoteUfrag"] != before[pc]["remoteUfrag"] for pc in ("pub", "sub"))
        await eventually(restarted, timeout=30, interval=0.2,
                         what="new ICE credentials on both of Chromium's PCs, both sides")
        await eventually(lambda: caplog.text.count("connection completed") >= 2, timeout=30, interval=0.2,
                         what="the edge's restarts of both PCs completed")
        await both_flow(from_alice(), await decoded_by_chromium())
        after = await stats()
        for pc in ("pub", "sub"):
            assert after[pc]["state"] == "connected" and after[pc]["dtlsState"] == "connected", after
        since = (await page.evaluate("() => cc.messages.map(m => m.type)"))[seen:]
        assert not {"track_published", "track_unpublished", "participant_left", "peer_state", "error"} & set(since), since
        assert {t.track_id for t in room.tracks()} == tracks
        assert await page.evaluate("() => cc.errors") == []
    finally:
        await bob.close()


async def _at_least(read, n: int) -> bool:  # noqa: ANN001
    return await read() >= n
