"""Settings loaded from TOML into msgspec Structs.

Every settings Struct forbids unknown fields, so a typo in a config file is an error rather than a
silently ignored key. :func:`load` reads one file and converts it; any problem becomes a
:class:`SettingsError` whose message names the file and the offending field, e.g.::

    configs/edge.toml: Expected `int`, got `str` - at `$.http.port`
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class SettingsError(Exception):
    """A settings file could not be read or does not match its schema."""

    def __init__(self, path: str | os.PathLike[str], detail: str) -> None:
        self.path = str(path)
        self.detail = detail
        super().__init__(f"{self.path}: {detail}")


def is_loopback(host: str | None) -> bool:
    """Whether *host* (a name or an address, as written in a URL) is this machine's loopback.

    Only ``localhost`` and loopback addresses count; other names are not resolved.
    """
    import ipaddress

    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for settings sections: unknown keys are refused."""


class NatsSettings(Base, kw_only=True):
    """How a process reaches NATS."""

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    #: JetStream domain to use for streams and KV (None: the server's own).
    jetstream_domain: str | None = None
    user: str | None = None
    password: str | None = None
    #: Path to an nkey seed file (``SU…``); takes precedence over user/password.
    nkey_seed_file: str | None = None
    #: Prefix of this process's reply subjects (e.g. "_INBOX.edge-eu-1"), so NATS permissions can
    #: give each node its own inbox. Empty: the library default "_INBOX".
    inbox_prefix: str = ""
    connect_timeout: float = 2.0
    #: Seconds a SIGTERM drain may take before the connection is closed anyway.
    drain_timeout: float = 5.0


class HttpSettings(Base, kw_only=True):
    """Where a process listens for HTTP."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Seconds open connections get to finish on shutdown.
    graceful_timeout: float = 5.0


class LogSettings(Base, kw_only=True):
    level: str = "INFO"
    #: "json" (one object a line, for journald and collectors) or "text".
    format: str = "json"


def load(path: str | os.PathLike[str], schema: type[T], *, overrides: dict[str, Any] | None = None) -> T:
    """Read TOML at *path* and convert it to *schema*.

    *overrides* are merged over the file (dotted keys allowed, e.g. ``{"http.port": 0}``) before
    validation, so command-line flags are checked like the file is.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SettingsError(p, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(p, f"not valid TOML: {exc}") from None
    return convert(data, schema, source=p, overrides=overrides)


def convert(data: dict[str, Any], schema: type[T], *, source: str | os.PathLike[str] = "<settings>",
            overrides: dict[str, Any] | None = None) -> T:
    """Validate an already-parsed mapping against *schema* (errors name *source* and the field)."""
    merged = dict(data)
    for dotted, value in (overrides or {}).items():
        _set_dotted(merged, dotted, value)
    try:
        return msgspec.convert(merged, schema, strict=True)
    except msgspec.ValidationError as exc:
        raise SettingsError(source, str(exc)) from None


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
        else:
            nxt = dict(nxt)
        target[key] = nxt
        target = nxt
    target[keys[-1]] = value
