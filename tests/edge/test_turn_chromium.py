"""Chromium forced to relay (``iceTransportPolicy: "relay"``) over TURN/TCP only (or TLS only), through a real
coturn, with the credentials the edge handed it: its camera and microphone reach an aiortc
participant, and that participant's media reaches Chromium, both peer connections relayed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.conftest import TURN_SECRET
from tests.edge.edge_support import MEETING, EdgeServer, TokenKit, joined_client
from tests.edge.test_media import MediaClient
from tests.support.browser import chromium_path, close, launch, playwright_available
from tests.support.util import eventually, require

PAGE_JS = Path(__file__).with_name("turn_page.js")


async def _serve_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The test page, over HTTP on 127.0.0.1: a secure context, in the edge's own address space."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):  # e.g. a preconnect left unused
        await reader.readuntil(b"\r\n\r\n")
        body = f"<!doctype html><title>turn</title><script>{PAGE_JS.read_text()}</script>".encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
    writer.close()


def _spki_sha256(cert_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's SPKI flags take it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = x509.load_pem_x509_certificate(cert_file.read_bytes()).public_key()
    digest = hashes.Hash(hashes.SHA256())
    digest.update(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return base64.b64encode(digest.finalize()).decode()


@pytest.fixture
async def page(coturn) -> AsyncIterator[object]:  # noqa: ANN001
    require(playwright_available(), "playwright for Python (pip install playwright)")
    require(chromium_path() is not None, "Chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    server = await asyncio.start_server(_serve_page, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Chromium checks the TURN server's TLS certificate: trust the test CA's one for this run
    trust = [f"--ignore-certificate-errors-spki-list={_spki_sha256(coturn.tls.cert)}"]
    async with server, async_playwright() as pw:
        context = await launch(pw, args=trust)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            yield page
        finally:
            await close(context)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_media_flows_both_ways_with_chromium_relayed_only_over_turn_tcp_or_tls(
        make_edge, tokens: TokenKit, coturn, page, transport: str) -> None:  # noqa: ANN001
    urls = [coturn.url("udp"), coturn.url("tcp"), coturn.url("tls")]
    async with make_edge(turn={"urls": urls, "secret": TURN_SECRET, "ttl": 600}) as edge:
        edge: EdgeServer
        await edge.node.bus.wait_connected(10)
        bob = MediaClient(await joined_client(edge, tokens.sign(name="Bob")))
        try:
            await bob.publish()
            alice = await page.evaluate("([u, t, m, k]) => turnClient(u, t, m, k)",
                                        [edge.ws_url(), tokens.sign(name="Alice"), MEETING, transport])
            # the page kept only the TURN/TCP (or TURN/TLS) URL, with its own credentials
            (server,) = alice["iceServers"]
            assert server["urls"] == [coturn.url(transport)]
            assert server["username"].endswith(":" + alice["participant_id"])

            def from_alice(kind: str) -> int:
                return sum(n for mid, n in bob.frames.items()
                           if bob.kinds[mid] == kind and bob.msid.get(mid, ("",))[0] == alice["participant_id"])

            async def stats() -> dict:
                return await page.evaluate("() => turnStats()")

            await eventually(lambda: from_alice("video") >= 30 and from_alice("audio") >= 30, timeout=60,
                             interval=0.3, what="the aiortc participant decodes Chromium's relayed camera and microphone")

            async def chromium_receives() -> bool:
                s = await stats()
                return s.get("sub", {}).get("framesDecoded", 0) >= 30 and s["sub"]["audioReceived"] >= 30

            await eventually(chromium_receives, timeout=60, interval=0.3,
                             what="Chromium decodes the aiortc participant's video, relayed")
            s = await stats()
            for name in ("pub", "sub"):
                assert s[name]["state"] == "connected", s
                # both of Chromium's peer connections really went through the TURN server, over TCP or TLS
                assert s[name]["local"]["type"] == "relay" and s[name]["local"]["relayProtocol"] == transport, s
                assert s[name]["local"]["url"] == coturn.url(transport), s
                assert s[name]["bytesSent"] > 0 and s[name]["bytesReceived"] > 0, s
            assert s["pub"]["framesSent"] >= 30 and s["pub"]["audioSent"] >= 30, s
            assert await page.evaluate("() => window.turnState.errors") == []
            # coturn allocated for Alice's username (and only the edge derived it: the secret stayed)
            assert server["username"] in coturn.log_text()
            assert not any(TURN_SECRET in str(m) for m in await page.evaluate("() => window.turnState.messages"))
        finally:
            await bob.close()
