"""Which ERROR logs the running test expects (see ``no_unexpected_errors`` in tests/conftest.py).

A test says so with ``@pytest.mark.allow_errors(r"regex", reason="...")``; a helper that sets up
something known to log an ERROR (e.g. edges without an events stream) calls :func:`allow_errors`
while the test runs. Patterns are searched in "logger: message" followed by the traceback, and
for our child processes in "process-name: logger: message".
"""

from __future__ import annotations

_allowed: list[str] = []


def allow_errors(*patterns: str, reason: str) -> None:
    """Expect ERROR logs matching *patterns* until the end of the running test."""
    if not reason:
        raise ValueError("allow_errors needs a reason")
    _allowed.extend(patterns)


def take_allowed() -> list[str]:
    """The patterns allowed during the test that just ended; forgets them."""
    out = list(_allowed)
    _allowed.clear()
    return out
