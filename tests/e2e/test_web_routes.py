"""The control plane serves the web app: the shell on every app route with its security headers,
files under /static with validators so a deploy takes effect, and nothing from outside the machine."""

from __future__ import annotations

import re

import httpx
import pytest

from control_plane.web.controllers import STATIC_DIR
from tests.e2e.stack import Stack

APP_ROUTES = ["/", "/signin", "/register", "/meetings", "/meetings/new", "/meetings/abc123", "/meetings/abc123/edit",
              "/m/abc123"]


@pytest.fixture(scope="module")
def http(stack: Stack):  # noqa: ANN201
    with httpx.Client(base_url=stack.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", APP_ROUTES)
def test_every_app_route_answers_the_shell_with_security_headers(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/js/main.js"></script>' in r.text
    csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["img-src"].startswith("'self'")
    assert csp["connect-src"] == "'self' ws: wss:" and csp["default-src"] == "'self'"
    assert csp["worker-src"] == "'self'"  # the room's end-to-end encryption worker, from this origin only
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]


def test_files_are_revalidated_with_their_etag(http: httpx.Client) -> None:
    r = http.get("/static/js/main.js")
    assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    again = http.get("/static/js/main.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert http.get("/static/js/main.js", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert http.get("/static/css/room.css").headers["content-type"] == "text/css; charset=utf-8"
    assert http.get("/static/icon.svg").headers["content-type"] == "image/svg+xml"
    assert http.get("/favicon.ico").status_code == 200


@pytest.mark.parametrize("path", ["/static/../controllers.py", "/static/%2e%2e/controllers.py", "/static/js/nope.js",
                                  "/static/", "/static/js", "/static/js/../../controllers.py", "/static/app.py",
                                  "/static//etc/passwd"])
def test_nothing_outside_the_static_files_is_served(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert "import" not in r.text


def test_the_app_refers_to_nothing_outside_the_machine() -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.suffix in (".js", ".css", ".html", ".svg")]
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text):
            assert url == "//www.w3.org/2000/svg" or url.endswith("www.w3.org/2000/svg"), (path.name, url)
        assert "@import" not in text and "fonts.g" not in text, path.name


def test_every_module_the_app_imports_exists() -> None:
    for path in STATIC_DIR.rglob("*.js"):
        for target in re.findall(r'^import .* from "([^"]+)";$', path.read_text(), re.M):
            assert (path.parent / target).resolve().is_file(), (path.name, target)
