"""The control plane's API as the command line sees it: one ``httpx`` client, its settings, its errors.

Where to connect, in order of precedence:

* base URL: ``--url``, else ``$CURIOUS_URL``, else ``http://127.0.0.1:8080``;
* admin token: ``--token-file``, else ``$CURIOUS_TOKEN_FILE``, else ``$CURIOUS_TOKEN`` (the token
  itself), else the file ``curious login`` writes by default (``$XDG_CONFIG_HOME/curious/token``,
  i.e. ``~/.config/curious/token``).

A failed request becomes a :class:`CliError`: one line for stderr and an exit code —
:data:`EXIT_USAGE` (2) for bad input (argparse's own code, and a 400/422 answer),
:data:`EXIT_UNREACHABLE` (3), :data:`EXIT_AUTH` (4: 401 or 403), :data:`EXIT_NOT_FOUND` (5),
:data:`EXIT_REFUSED` (6: 409, 423, 429 — a conflict or a refusal), :data:`EXIT_OTHER` (1).
``curious.__main__`` prints the line and returns the code; commands just let it propagate.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_NOT_FOUND = 5
EXIT_REFUSED = 6

DEFAULT_URL = "http://127.0.0.1:8080"  # ./dev up and configs/control_plane.toml
API = "/api/v1"


class CliError(Exception):
    """A failure to report as one line on stderr, with the process's exit code."""

    def __init__(self, message: str, code: int = EXIT_OTHER, status: int | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the server said
        self.code = code
        #: The HTTP status, when the failure is an answer of the server.
        self.status = status


def exit_code_for(status: int) -> int:
    """The exit code for an HTTP error status."""
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404:
        return EXIT_NOT_FOUND
    if status in (409, 423, 429):
        return EXIT_REFUSED
    if status in (400, 413, 415, 422):
        return EXIT_USAGE
    return EXIT_OTHER


def default_token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "curious" / "token"


def connection_options() -> argparse.ArgumentParser:
    """The options every command takes (``--url``, ``--token-file``, ``--json``, ``--timeout``), as a
    parent parser. They default to "not given" so that the same option may stand before or after
    the sub-command (``curious --json meetings list`` and ``curious meetings list --json``)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    g.add_argument("--url", default=argparse.SUPPRESS, metavar="URL",
                   help=f"the control plane's base URL (default: $CURIOUS_URL or {DEFAULT_URL})")
    g.add_argument("--token-file", default=argparse.SUPPRESS, metavar="FILE",
                   help="a file holding an admin bearer token (default: $CURIOUS_TOKEN_FILE, $CURIOUS_TOKEN, "
                        "or the file `curious login` writes)")
    g.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                   help="how long to wait for an answer (default 10)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print the API's JSON instead of tables (for scripts)")
    return p


def command(subparsers: Any, name: str, help: str, func: Any, **kwargs: Any) -> argparse.ArgumentParser:
    """Add the sub-command *name* to *subparsers* with the connection options, calling *func(args)*."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help, description=help,
                                                       parents=[connection_options()], **kwargs)
    p.set_defaults(func=func)
    return p


def wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def base_url(args: argparse.Namespace | None = None) -> str:
    url = (getattr(args, "url", None) if args is not None else None) or os.environ.get("CURIOUS_URL") or DEFAULT_URL
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"the control plane's URL must start with http:// or https:// (got {url!r})", EXIT_USAGE)
    return url


def token_file(args: argparse.Namespace | None = None) -> Path:
    """Where the token is read from and ``curious login`` writes it."""
    given = (getattr(args, "token_file", None) if args is not None else None) or os.environ.get("CURIOUS_TOKEN_FILE")
    return Path(given).expanduser() if given else default_token_file()


def read_token(args: argparse.Namespace | None = None) -> str:
    """The admin bearer token, from the first place that has one; a :class:`CliError` when none does."""
    explicit = (getattr(args, "token_file", None) if args is not None else None) or os.environ.get("CURIOUS_TOKEN_FILE")
    if not explicit and os.environ.get("CURIOUS_TOKEN", "").strip():
        return os.environ["CURIOUS_TOKEN"].strip()
    path = token_file(args)
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        if explicit:
            raise CliError(f"token file {path} does not exist", EXIT_USAGE) from None
        raise CliError("no admin token: run `curious login`, or give --token-file, $CURIOUS_TOKEN_FILE or "
                       "$CURIOUS_TOKEN", EXIT_AUTH) from None
    except OSError as e:
        raise CliError(f"cannot read token file {path}: {e.strerror or e}", EXIT_USAGE) from None
    if not token:
        raise CliError(f"token file {path} is empty", EXIT_USAGE)
    return token


def write_token(path: Path, token: str) -> None:
    """Write *token* to *path*, readable by its owner alone (mode 0600, also when it existed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)


def _detail(response: httpx.Response) -> str:
    """What the server said was wrong: the error body's ``detail`` (and fields), else the reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("error") or "")
        fields = body.get("fields")
        if isinstance(fields, list) and fields:
            named = "; ".join(f"{f.get('field')}: {f.get('message')}" for f in fields if isinstance(f, dict))
            if named and named not in detail:
                detail = f"{detail} ({named})" if detail else named
        if detail:
            return detail
    text = response.text.strip()
    return text[:200] if text and len(text) < 200 else response.reason_phrase or "error"


class Client:
    """The control plane's API with an admin's bearer token. Methods return the decoded JSON body
    (``None`` for an empty one) and raise :class:`CliError` for anything but a 2xx answer."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "curious"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, token: bool = True) -> Client:
        """A client for the command line's ``--url``/``--token-file``/``--timeout`` (or the environment)."""
        timeout = float(getattr(args, "timeout", 10.0))
        if timeout <= 0:
            raise CliError("--timeout must be positive", EXIT_USAGE)
        return cls(base_url(args), read_token(args) if token else None, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def path(self, path: str) -> str:
        """``/api/v1/…`` for ``/…`` (a path already under ``/api`` or an absolute URL is kept)."""
        if path.startswith(("http://", "https://", "/api/")):
            return path
        return API + (path if path.startswith("/") else "/" + path)

    def _unreachable(self, e: httpx.TransportError) -> CliError:
        if isinstance(e, httpx.TimeoutException):
            why = "no answer in time"
        else:
            why = str(e).split("\n")[0] or type(e).__name__
        return CliError(f"cannot reach the control plane at {self.url}: {why}", EXIT_UNREACHABLE)

    def _check(self, method: str, path: str, response: httpx.Response) -> None:
        if response.is_success:
            return
        status = response.status_code
        what = "not signed in or the token expired" if status == 401 else _detail(response)
        if status == 401 and (d := _detail(response)) and d != "sign in first":
            what = d
        raise CliError(f"{method} {path}: {what} (HTTP {status})", exit_code_for(status), status)

    def request(self, method: str, path: str, *, json: Any = None,
                params: Mapping[str, Any] | None = None) -> httpx.Response:
        """Send one request; the response when it succeeded, else a :class:`CliError`."""
        full = self.path(path)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.http.request(method, full, json=json, params=clean or None)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        self._check(method, full, response)
        return response

    def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request(method, path, json=json, params=params)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{method} {self.path(path)}: the answer is not JSON", EXIT_OTHER) from None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.call("POST", path, json=body, params=params)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.call("PATCH", path, json=body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.call("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    @contextmanager
    def stream(self, path: str, **params: Any) -> Iterator[httpx.Response]:
        """A streamed GET (downloads): the response, its body not read yet."""
        full = self.path(path)
        try:
            with self.http.stream("GET", full, params={k: v for k, v in params.items() if v is not None}) as r:
                if not r.is_success:
                    r.read()
                self._check("GET", full, r)
                yield r
        except httpx.TransportError as e:
            raise self._unreachable(e) from None

    def download(self, path: str, dest: Path) -> int:
        """GET *path* into *dest* (written beside it, then renamed); the bytes written."""
        tmp = dest.with_name(dest.name + ".part")
        n = 0
        try:
            with self.stream(path) as r, tmp.open("wb") as f:
                for chunk in r.iter_bytes():
                    f.write(chunk)
                    n += len(chunk)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return n


def report(error: CliError) -> int:
    """Print *error* as one line on stderr; its exit code."""
    print(f"curious: {error.message}", file=sys.stderr)
    return error.code
