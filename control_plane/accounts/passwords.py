"""Password hashing with Argon2id (memory-hard), verified in a worker thread."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes); ``[accounts]
# password_hash_memory_kib`` and ``password_hash_passes`` change it (see :func:`configure`).
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
#: A hash of a random password: verifying against it costs as much as a real check, so a wrong
#: user name takes as long to refuse as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def configure(memory_kib: int, passes: int) -> None:
    """Hash new passwords with *memory_kib* KiB and *passes* passes (4 lanes). Stored hashes carry
    their own parameters, so hashes made before a change still verify."""
    global _hasher, _DUMMY
    if (_hasher.memory_cost, _hasher.time_cost) == (memory_kib, passes):
        return
    _hasher = PasswordHasher(time_cost=passes, memory_cost=memory_kib, parallelism=4)
    _DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)


def generate_password() -> str:
    return secrets.token_urlsafe(15)
