"""Limits on guessing: sign-in attempts per account name and per client address, and meeting
passwords per meeting and client address.

Failed attempts are counted in a sliding window; past the limit further attempts are answered
429 with ``Retry-After`` until the window has room again, whether or not the password is right —
so guessing cannot continue at full speed. A success clears the account's counter. Counters live
in memory: several control planes each apply the limit.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from litestar import Request
from litestar.exceptions import TooManyRequestsException


class _Window:
    """Failures per key in a sliding window of *window* seconds."""

    def __init__(self, window: float, clock: Callable[[], float]) -> None:
        self.window = window
        self._clock = clock
        self._fails: dict[str, deque[float]] = defaultdict(deque)

    def _retry_after(self, q: deque[float]) -> int:
        return max(1, int(q[0] + self.window - self._clock()) + 1)

    def _recent(self, key: str) -> deque[float]:
        q = self._fails[key]
        edge = self._clock() - self.window
        while q and q[0] < edge:
            q.popleft()
        if not q:
            self._fails.pop(key, None)
            return deque()
        return q


class LoginLimiter(_Window):
    def __init__(self, *, per_account: int = 5, per_address: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window, clock)
        self.per_account = per_account
        self.per_address = per_address

    @staticmethod
    def _keys(username: str, request: Request) -> tuple[str, str]:
        addr = request.client.host if request.client else "?"
        return f"user:{username.strip().lower()}", f"addr:{addr}"

    async def check_login(self, username: str, request: Request) -> None:
        user_key, addr_key = self._keys(username, request)
        for key, limit in ((user_key, self.per_account), (addr_key, self.per_address)):
            q = self._recent(key)
            if len(q) >= limit:
                retry = self._retry_after(q)
                raise TooManyRequestsException(
                    f"too many failed sign-in attempts for this {'account' if key == user_key else 'address'};"
                    f" try again in {retry} s", headers={"Retry-After": str(retry)})

    async def failed(self, username: str, request: Request) -> None:
        now = self._clock()
        for key in self._keys(username, request):
            self._fails[key].append(now)

    async def succeeded(self, username: str, request: Request) -> None:
        self._fails.pop(self._keys(username, request)[0], None)


class GuessLimiter(_Window):
    """Wrong meeting passwords, per meeting and client address.

    Keyed by both, so guessing one meeting's password is slowed down without letting anyone lock
    the meeting for everybody else."""

    def __init__(self, *, per_meeting_address: int = 10, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window, clock)
        self.limit = per_meeting_address

    @staticmethod
    def _key(meeting_id: str, addr: str | None) -> str:
        return f"meeting:{meeting_id}:addr:{addr or '?'}"

    def check(self, meeting_id: str, addr: str | None) -> None:
        q = self._recent(self._key(meeting_id, addr))
        if len(q) >= self.limit:
            retry = self._retry_after(q)
            raise TooManyRequestsException(f"too many wrong passwords for this meeting; try again in {retry} s",
                                           headers={"Retry-After": str(retry)})

    def failed(self, meeting_id: str, addr: str | None) -> None:
        self._fails[self._key(meeting_id, addr)].append(self._clock())

    def succeeded(self, meeting_id: str, addr: str | None) -> None:
        self._fails.pop(self._key(meeting_id, addr), None)
