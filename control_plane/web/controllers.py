"""HTTP: the web app — its HTML shell on the app's routes and its ES modules, CSS and images.

The app is plain ES modules under ``static/`` (no build step). Every page route answers the same
shell (``static/app.html``); the client-side router draws the page. Everything is served with
``Cache-Control: no-cache`` and a content ``ETag``: browsers revalidate each file and get
``304 Not Modified`` while it is unchanged, so a deploy takes effect at the next load.

The shell carries the security headers: a Content-Security-Policy that allows scripts, styles,
images and fonts from this origin only (nothing from outside the machine), media from local
streams, and signaling connections to the edges (``ws:`` / ``wss:``, another origin). Workers come
from this origin only (``worker-src 'self'``: the room's end-to-end encryption worker).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException

STATIC_DIR = Path(__file__).resolve().parent / "static"
SHELL = "app.html"

CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

SHELL_HEADERS = {
    **COMMON_HEADERS,
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    # The room asks for the camera, the microphone and the screen; nothing else is used.
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    content_type: str
    stamp: tuple[int, int]


class AssetCache:
    """Files under ``static/``, read on first use and again when their size or mtime changes."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, Asset] = {}

    def resolve(self, rel: str) -> Path:
        """The file for a request path; anything outside ``static/`` or of another type is not found."""
        if not rel or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in rel.split("/")):
            raise NotFoundException("no such file")
        path = (self.root / rel).resolve()
        if self.root not in path.parents or path.suffix not in CONTENT_TYPES or not path.is_file():
            raise NotFoundException("no such file")
        return path

    def get(self, path: Path) -> Asset:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        body = path.read_bytes()
        content_type = (CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
                        or "application/octet-stream")
        asset = Asset(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                      content_type=content_type, stamp=stamp)
        self._cache[path] = asset
        return asset


def _not_modified(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in sent.split(",")) if sent else False


def _answer(request: Request, asset: Asset, headers: dict[str, str]) -> Response[bytes]:
    out = {**headers, "ETag": asset.etag}
    if _not_modified(request, asset.etag):
        return Response(b"", status_code=304, headers=out)
    return Response(asset.body, media_type=asset.content_type, headers=out)


def _assets(request: Request) -> AssetCache:
    cache = getattr(request.app.state, "web_assets", None)
    if cache is None:
        cache = request.app.state.web_assets = AssetCache(STATIC_DIR)
    return cache


def shell(request: Request) -> Response[bytes]:
    assets = _assets(request)
    return _answer(request, assets.get(assets.resolve(SHELL)), SHELL_HEADERS)


class WebController(Controller):
    """The web app's pages and files. Page routes all answer the shell; the client draws the page."""

    path = "/"
    include_in_schema = False

    @get(["/", "/signin", "/register", "/meetings", "/meetings/new", "/account", "/admin"], sync_to_thread=False)
    def pages(self, request: Request) -> Response[bytes]:
        return shell(request)

    @get(["/meetings/{meeting_id:str}", "/meetings/{meeting_id:str}/edit", "/m/{meeting_id:str}"],
         sync_to_thread=False)
    def meeting_pages(self, request: Request, meeting_id: str) -> Response[bytes]:
        return shell(request)

    @get("/admin/{tab:str}", sync_to_thread=False)
    def admin_pages(self, request: Request, tab: str) -> Response[bytes]:
        return shell(request)

    @get("/static/{file_path:path}", sync_to_thread=False)
    def static(self, request: Request, file_path: str) -> Response[bytes]:
        assets = _assets(request)
        return _answer(request, assets.get(assets.resolve(file_path.lstrip("/"))), COMMON_HEADERS)

    @get("/favicon.ico", sync_to_thread=False)
    def favicon(self, request: Request) -> Response[bytes]:
        assets = _assets(request)
        return _answer(request, assets.get(assets.resolve("icon.svg")), COMMON_HEADERS)
