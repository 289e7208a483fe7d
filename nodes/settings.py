"""Settings loaded from TOML into msgspec Structs.

Every settings Struct forbids unknown fields, so a typo in a config file is an error rather than a
silently ignored key. :func:`load` reads one file and converts it; any problem becomes a
:class:`SettingsError` whose message names the file and the offending field, e.g.::

    configs/edge.toml: Expected `int`, got `str` - at `$.http.port`

Secrets (NATS password or nkey seed, LDAP service password, OIDC client secret) may be given inline,
or read from a file (``<name>_file``, e.g. a systemd credential or a mounted secret) or an
environment variable (``<name>_env``) — exactly one. They are resolved when the settings load, so a
missing file or an unset variable stops the process at start with the field named::

    /etc/cc/edge.toml: cannot read /run/secrets/nats: No such file or directory - at `$.nats.password_file`
"""

from __future__ import annotations

import os
import re
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


def resolve_secret(section: Any, name: str) -> None:
    """Set ``section.<name>`` from ``<name>_file`` or ``<name>_env`` when one of them is given.

    Called from a settings Struct's ``__post_init__``. At most one of the three may be set. A file's
    trailing line break is dropped. Errors are ``ValueError("`field`: detail")``, which
    :func:`convert` reports at that field's path.
    """
    path, var = getattr(section, f"{name}_file"), getattr(section, f"{name}_env")
    given = [field for field, value in ((name, getattr(section, name)), (f"{name}_file", path),
                                        (f"{name}_env", var)) if value]
    if len(given) > 1:
        raise ValueError(f"`{given[-1]}`: give only one of {', '.join(given)}")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"`{name}_file`: cannot read {path}: {detail}") from None
        if not value:
            raise ValueError(f"`{name}_file`: {path} is empty")
    elif var:
        value = os.environ.get(var, "")
        if var not in os.environ:
            raise ValueError(f"`{name}_env`: the environment variable {var} is not set")
        if not value:
            raise ValueError(f"`{name}_env`: the environment variable {var} is empty")
    else:
        return
    setattr(section, name, value)


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for settings sections: unknown keys are refused."""


def _check_readable(field: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ValueError(f"`{field}`: cannot read {path}: {exc.strerror or exc}") from None


def check_ca_file(field: str, path: str) -> None:
    """Refuse (``ValueError`` naming *field*) a CA file that cannot be read or holds no certificate."""
    import ssl

    _check_readable(field, path)
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ValueError(f"`{field}`: {path} holds no usable CA certificate ({exc.reason or exc})") from None


class NatsTlsSettings(Base, kw_only=True):
    """TLS to the NATS servers; used with ``tls://`` server URLs, which then all must be."""

    #: PEM file of the CA(s) that issued the servers' certificates; "": the system's CAs. The
    #: server's certificate is always verified, its name against the host of the URL.
    ca_file: str = ""
    #: This process's own certificate and key (PEM), for servers that verify clients (``verify: true``).
    cert_file: str = ""
    key_file: str = ""
    #: Name expected in the servers' certificates instead of the URL's host (e.g. when connecting by address).
    server_name: str = ""

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError(f"`{'key_file' if self.cert_file else 'cert_file'}`: cert_file and key_file go together")
        for field in ("cert_file", "key_file"):
            if getattr(self, field):
                _check_readable(field, getattr(self, field))
        if self.ca_file:
            check_ca_file("ca_file", self.ca_file)
        if self.cert_file:
            import ssl

            try:
                ssl.create_default_context().load_cert_chain(self.cert_file, self.key_file)
            except ssl.SSLError as exc:
                raise ValueError(f"`cert_file`: {self.cert_file} and {self.key_file} are not a certificate and"
                                 f" its key ({exc.reason or exc})") from None

    @property
    def given(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file, self.server_name))


class NatsSettings(Base, kw_only=True):
    """How a process reaches NATS."""

    #: ``nats://host:port`` (unencrypted) or ``tls://host:port`` (TLS, verified; see ``[nats.tls]``).
    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    #: JetStream domain to use for streams and KV (None: the server's own).
    jetstream_domain: str | None = None
    user: str | None = None
    #: The user's password: inline, or from a file (``password_file``) or an environment variable
    #: (``password_env``) — one of the three.
    password: str | None = None
    password_file: str = ""
    password_env: str = ""
    #: An nkey seed (``SU…``) instead of user/password: inline, from a file or a variable (one).
    nkey_seed: str | None = None
    nkey_seed_file: str = ""
    nkey_seed_env: str = ""
    #: Prefix of this process's reply subjects (e.g. "_INBOX.edge-eu-1"), so NATS permissions can
    #: give each node its own inbox. Empty: the library default "_INBOX".
    inbox_prefix: str = ""
    connect_timeout: float = 2.0
    #: Seconds a SIGTERM drain may take before the connection is closed anyway.
    drain_timeout: float = 5.0
    tls: NatsTlsSettings = msgspec.field(default_factory=NatsTlsSettings)
    #: Allow a password over ``nats://`` (unencrypted) to a server other than this machine's
    #: loopback. Off: such settings are refused at start.
    allow_plaintext: bool = False

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        resolve_secret(self, "password")
        resolve_secret(self, "nkey_seed")
        if self.nkey_seed and (self.user or self.password):
            raise ValueError("`nkey_seed`: give either an nkey seed or user/password, not both")
        urls = [urlsplit(u) for u in self.servers]
        for url, parts in zip(self.servers, urls, strict=True):
            if parts.scheme not in ("nats", "tls") or not parts.hostname:
                raise ValueError(f"`servers`: {url!r} is not a nats:// or tls:// URL")
        schemes = {p.scheme for p in urls}
        if len(schemes) > 1:
            raise ValueError("`servers`: either all tls:// or all nats:// (a plain URL would be a way around TLS)")
        if self.tls.given and schemes != {"tls"}:
            raise ValueError("`tls`: TLS settings need tls:// server URLs")
        if self.password and schemes == {"nats"} and not self.allow_plaintext:
            remote = [u for u, p in zip(self.servers, urls, strict=True) if not is_loopback(p.hostname)]
            if remote:
                raise ValueError(f"`servers`: {remote[0]} would carry the password unencrypted; use tls://"
                                 " (or set allow_plaintext = true)")

    @property
    def uses_tls(self) -> bool:
        return bool(self.servers) and all(u.startswith("tls://") for u in self.servers)


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
        raise SettingsError(source, _at_field(str(exc))) from None


_FIELD_ERROR = re.compile(r"^`(\w+)`: (.*?)(?: - at `(\$[^`]*)`)?$", re.S)


def _at_field(message: str) -> str:
    """"`password_file`: cannot read … - at `$.nats`" → "cannot read … - at `$.nats.password_file`"."""
    m = _FIELD_ERROR.match(message)
    if m is None:
        return message
    field, detail, path = m.groups()
    return f"{detail} - at `{path or '$'}.{field}`"


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


def dump_toml(data: dict[str, Any]) -> str:
    """Enough TOML for settings files (the edge workers' and the tests'): nested tables of
    scalars, lists and inline tables; ``None`` values are left out."""
    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return msgspec.json.encode(v).decode()
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {scalar(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    out: list[str] = []

    def table(prefix: str, d: dict[str, Any]) -> None:
        if prefix:
            out.append(f"[{prefix}]")
        out.extend(f"{k} = {scalar(v)}" for k, v in d.items() if not isinstance(v, dict) and v is not None)
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)
    table("", data)
    return "\n".join(out) + "\n"
