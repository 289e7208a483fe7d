from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

#: ``[accounts]`` settings for test control planes: Argon2id at its cheapest allowed cost, so the
#: hundreds of sign-ins in the suite do not each spend 64 MiB and three passes.
CHEAP_HASHING = {"password_hash_memory_kib": 1024, "password_hash_passes": 1}

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


_given: set[int] = set()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free loopback port, never one this process was given before (two servers of one test
    asking in a row must not get the same one)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


def require(ok: bool, what: str) -> None:
    """Skip when a real component is missing — except under CI=true, where it is a failure."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"required component missing in CI: {what}")
    pytest.skip(f"component missing: {what}")


def eventually_sync(check: Callable[[], T], timeout: float = 5.0, interval: float = 0.05,
                    what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s" + (f": last error {last!r}" if last else ""))


async def eventually(check: Callable[[], Awaitable[T] | T], timeout: float = 5.0, interval: float = 0.05,
                     what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
        except Exception as exc:  # noqa: BLE001
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s" + (f": last error {last!r}" if last else ""))
