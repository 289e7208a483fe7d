"""Ed25519 signing keys kept as PEM files in ``keys.dir``.

Each file holds one private key (PKCS#8 PEM, mode 0600). Files are named
``key-<UTC creation time>.pem``, so sorting by name sorts by age: the newest key signs, and every
key in the directory is published in the JWKS, so tokens signed before a :func:`rotate` keep
verifying until their key file is removed. A key's ``kid`` is its RFC 7638 thumbprint (SHA-256 of
the canonical JSON of ``crv``, ``kty`` and ``x``), so the same key has the same id everywhere.

The directory is read at start (one key is generated when it is empty) and read again whenever
its list of key files changes, so a rotation done by ``python -m control_plane.tokens rotate``
takes effect in a running control plane without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)


class SigningKeyError(Exception):
    """A key file cannot be used; the message names the file."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 JWK members of *public* (``kty``, ``crv``, ``x``)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def thumbprint(public: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order."""
    jwk = public_jwk(public)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        return {**public_jwk(self.public), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _write_new_key(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    # Written under a name no reader looks at, then linked into place whole: a control plane
    # sharing the folder never reads a key file half written.
    tmp = directory / f".key-{stamp}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        path = directory / f"key-{stamp}.pem"
        n = 0
        while True:
            try:
                os.link(tmp, path)   # fails if the name is taken (two keys within a microsecond)
                return path
            except FileExistsError:
                n += 1
                path = directory / f"key-{stamp}-{n}.pem"
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def rotate(directory: str | os.PathLike[str]) -> str:
    """Add a new signing key to *directory*; it signs from now on. Returns its ``kid``."""
    path = _write_new_key(Path(directory))
    key = _load(path)
    log.info("signing key added", extra={"kid": key.kid, "path": str(path)})
    return key.kid


def _load(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 key (join tokens are signed with EdDSA)")
    if path.stat().st_mode & 0o077:
        log.warning("signing key readable by others", extra={"path": str(path)})
    return SigningKey(kid=thumbprint(private.public_key()), private=private, path=path)


def load_keys(directory: str | os.PathLike[str], *, create: bool = True) -> list[SigningKey]:
    """Every key in *directory*, oldest first; with *create*, generate one when there is none."""
    d = Path(directory)
    files = sorted(d.glob("*.pem")) if d.is_dir() else []
    if not files and create:
        files = [_write_new_key(d)]
        log.warning("no signing key found: generated one", extra={"path": str(files[0])})
    return [_load(p) for p in files]


class KeyStore:
    """The keys of one directory: :attr:`current` signs, :meth:`jwks` lists them all."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._keys = load_keys(self.directory)
        self._stamp = self._dir_stamp()
        self._checked = time.monotonic()

    def _dir_stamp(self) -> tuple[int, tuple[str, ...]]:
        """The directory's mtime and key file names (mtime alone is too coarse on some systems)."""
        try:
            return self.directory.stat().st_mtime_ns, tuple(sorted(n for n in os.listdir(self.directory)
                                                                   if n.endswith(".pem")))
        except OSError:
            return -1, ()

    #: Seconds between looks at the directory: signing must not cost a stat and a listdir each time.
    CHECK_INTERVAL = 1.0

    def refresh(self, *, force: bool = False) -> None:
        """Read the directory again if it changed (a key was added or removed); looks at most
        once per :attr:`CHECK_INTERVAL` unless *force*."""
        now = time.monotonic()
        if not force and now - self._checked < self.CHECK_INTERVAL:
            return
        self._checked = now
        stamp = self._dir_stamp()
        if stamp == self._stamp:
            return
        with self._lock:
            keys = load_keys(self.directory, create=False)
            if not keys:
                log.error("signing key directory is empty: keeping the keys already loaded")
                return
            self._keys, self._stamp = keys, stamp
            log.info("signing keys reloaded", extra={"kids": [k.kid for k in keys]})

    @property
    def current(self) -> SigningKey:
        self.refresh()
        return self._keys[-1]

    def keys(self) -> list[SigningKey]:
        """Every key, the directory read afresh (a JWKS request is rare; signing is not)."""
        self.refresh(force=True)
        return list(self._keys)

    def jwks(self) -> dict[str, Any]:
        """The JWKS document (RFC 7517): newest key first."""
        return {"keys": [k.jwk() for k in reversed(self.keys())]}
