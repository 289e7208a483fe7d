"""Limits on guessing: sign-in attempts per account name and per client address, and meeting
passwords per meeting and client address.

Failed attempts are counted in a sliding window; past the limit further attempts are answered
429 with ``Retry-After`` until the window has room again, whether or not the password is right —
so guessing cannot continue at full speed. A success clears the account's counter. The control
plane keeps failures in the database (:class:`StoredLoginLimiter`, :class:`StoredGuessLimiter`,
table ``failed_attempts``), so control planes side by side on one PostgreSQL apply one limit
together and a restart forgets nothing; :class:`LoginLimiter` and :class:`GuessLimiter` are the
same rules in memory (bounded, below).

The client address is :func:`control_plane.clients.client_address` (trusted proxies honoured);
an IPv6 client counts by its /64 network, which one subscriber usually holds whole. The maps stay
bounded: a key is dropped once its last failure has left the window (swept at every failure), a
key never keeps more than its limit of failures, and past ``max_keys`` keys the one failed
longest ago is dropped first.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from litestar.exceptions import TooManyRequestsException

from ..db import Database

log = logging.getLogger(__name__)

#: Keys each limiter keeps at most (about 100 bytes each plus the failure times).
MAX_KEYS = 100_000


def address_key(addr: str | None) -> str:
    """What a client address counts as: itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return addr or "?"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class _Window:
    """Failures per key in a sliding window of *window* seconds, at most *limit* kept per key."""

    def __init__(self, window: float, clock: Callable[[], float], max_keys: int) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        #: Oldest last failure first, so a sweep stops at the first key still in the window.
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """Keys held now (expired ones go at the next failure or :meth:`sweep`)."""
        return len(self._fails)

    def sweep(self) -> None:
        """Drop every key whose last failure has left the window."""
        edge = self._clock() - self.window
        while self._fails:
            key, q = next(iter(self._fails.items()))
            if q and q[-1] >= edge:
                break
            del self._fails[key]

    def _retry_after(self, q: deque[float]) -> int:
        return max(1, int(q[0] + self.window - self._clock()) + 1)

    def _recent(self, key: str) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        edge = self._clock() - self.window
        while q and q[0] < edge:
            q.popleft()
        if not q:
            del self._fails[key]
        return q

    def _record(self, key: str, limit: int) -> bool:
        """Count a failure for *key*; whether it has just reached *limit* (once per lockout)."""
        self.sweep()
        edge = self._clock() - self.window
        q = self._fails.pop(key, None)
        if q is None or q.maxlen != limit:
            q = deque(q or (), maxlen=max(1, limit))
        while q and q[0] < edge:
            q.popleft()
        q.append(self._clock())
        self._fails[key] = q
        while len(self._fails) > self.max_keys:
            self._fails.popitem(last=False)
        return len(q) == limit

    def _forget(self, key: str) -> None:
        self._fails.pop(key, None)


class LoginLimiter(_Window):
    def __init__(self, *, per_account: int = 5, per_address: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        super().__init__(window, clock, max_keys)
        self.per_account = per_account
        self.per_address = per_address

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}", f"addr:{address_key(client)}"

    def check_login(self, username: str, client: str) -> None:
        """429 while *username* or the *client* address has used up its failures."""
        user_key, addr_key = self._keys(username, client)
        for key, limit, what in ((user_key, self.per_account, "account"), (addr_key, self.per_address, "address")):
            q = self._recent(key)
            if len(q) >= limit:
                retry = self._retry_after(q)
                raise TooManyRequestsException(
                    f"too many failed sign-in attempts for this {what}; try again in {retry} s",
                    headers={"Retry-After": str(retry)})

    def failed(self, username: str, client: str) -> None:
        user_key, addr_key = self._keys(username, client)
        if self._record(user_key, self.per_account):
            log.warning("sign-in limit reached for an account",
                        extra={"username": user_key[5:], "client": client, "window": self.window})
        if self._record(addr_key, self.per_address):
            log.warning("sign-in limit reached for a client address",
                        extra={"client": addr_key[5:], "username": user_key[5:], "window": self.window})

    def succeeded(self, username: str, client: str) -> None:
        self._forget(self._keys(username, client)[0])


class _StoredWindow:
    """Failures per key in a sliding window, as rows of the ``failed_attempts`` table (wall-clock
    times): every control plane on the database counts the same failures. Rows that have left
    the window go at every failure."""

    def __init__(self, db: Database, window: float, clock: Callable[[], float]) -> None:
        self.db = db
        self.window = window
        self._clock = clock

    async def _retry_after(self, key: str, limit: int) -> int | None:
        """Seconds until *key* may try again, None while it has failures to spare."""
        now = self._clock()
        rows = await self.db.fetch_all("SELECT at FROM failed_attempts WHERE key = ? AND at >= ?"
                                       " ORDER BY at DESC LIMIT ?", (key, now - self.window, max(1, limit)))
        if len(rows) < limit:
            return None
        return max(1, int(rows[-1]["at"] + self.window - now) + 1)

    async def _record(self, keys: list[str]) -> dict[str, int]:
        """Count a failure for each of *keys*; the failures each now has in the window."""
        now = self._clock()
        counts = {}
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM failed_attempts WHERE at < ?", (now - self.window,))
            await conn.executemany("INSERT INTO failed_attempts (key, at) VALUES (?, ?)", [(k, now) for k in keys])
            for key in keys:
                cur = await conn.execute("SELECT COUNT(*) FROM failed_attempts WHERE key = ?", (key,))
                counts[key] = (await cur.fetchone())[0]
        return counts

    async def _forget(self, key: str) -> None:
        await self.db.execute("DELETE FROM failed_attempts WHERE key = ?", (key,))


class StoredLoginLimiter(_StoredWindow):
    """:class:`LoginLimiter`'s rule, kept in the database and shared by every control plane on it."""

    def __init__(self, db: Database, *, per_account: int = 5, per_address: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(db, window, clock)
        self.per_account = per_account
        self.per_address = per_address

    async def check_login(self, username: str, client: str) -> None:
        """429 while *username* or the *client* address has used up its failures."""
        user_key, addr_key = LoginLimiter._keys(username, client)
        for key, limit, what in ((user_key, self.per_account, "account"), (addr_key, self.per_address, "address")):
            retry = await self._retry_after(key, limit)
            if retry is not None:
                raise TooManyRequestsException(
                    f"too many failed sign-in attempts for this {what}; try again in {retry} s",
                    headers={"Retry-After": str(retry)})

    async def failed(self, username: str, client: str) -> None:
        user_key, addr_key = LoginLimiter._keys(username, client)
        counts = await self._record([user_key, addr_key])
        if counts[user_key] == self.per_account:
            log.warning("sign-in limit reached for an account",
                        extra={"username": user_key[5:], "client": client, "window": self.window})
        if counts[addr_key] == self.per_address:
            log.warning("sign-in limit reached for a client address",
                        extra={"client": addr_key[5:], "username": user_key[5:], "window": self.window})

    async def succeeded(self, username: str, client: str) -> None:
        await self._forget(LoginLimiter._keys(username, client)[0])


class StoredGuessLimiter(_StoredWindow):
    """:class:`GuessLimiter`'s rule (wrong meeting passwords per meeting and client address), kept
    in the database and shared by every control plane on it."""

    def __init__(self, db: Database, *, per_meeting_address: int = 10, window: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(db, window, clock)
        self.limit = per_meeting_address

    async def check(self, meeting_id: str, addr: str | None) -> None:
        retry = await self._retry_after(GuessLimiter._key(meeting_id, addr), self.limit)
        if retry is not None:
            raise TooManyRequestsException(f"too many wrong passwords for this meeting; try again in {retry} s",
                                           headers={"Retry-After": str(retry)})

    async def failed(self, meeting_id: str, addr: str | None) -> None:
        key = GuessLimiter._key(meeting_id, addr)
        if (await self._record([key]))[key] == self.limit:
            log.warning("meeting password limit reached",
                        extra={"meeting_id": meeting_id, "client": address_key(addr), "window": self.window})

    async def succeeded(self, meeting_id: str, addr: str | None) -> None:
        await self._forget(GuessLimiter._key(meeting_id, addr))


class GuessLimiter(_Window):
    """Wrong meeting passwords, per meeting and client address.

    Keyed by both, so guessing one meeting's password is slowed down without letting anyone lock
    the meeting for everybody else."""

    def __init__(self, *, per_meeting_address: int = 10, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        super().__init__(window, clock, max_keys)
        self.limit = per_meeting_address

    @staticmethod
    def _key(meeting_id: str, addr: str | None) -> str:
        return f"meeting:{meeting_id}:addr:{address_key(addr)}"

    def check(self, meeting_id: str, addr: str | None) -> None:
        q = self._recent(self._key(meeting_id, addr))
        if len(q) >= self.limit:
            retry = self._retry_after(q)
            raise TooManyRequestsException(f"too many wrong passwords for this meeting; try again in {retry} s",
                                           headers={"Retry-After": str(retry)})

    def failed(self, meeting_id: str, addr: str | None) -> None:
        if self._record(self._key(meeting_id, addr), self.limit):
            log.warning("meeting password limit reached",
                        extra={"meeting_id": meeting_id, "client": address_key(addr), "window": self.window})

    def succeeded(self, meeting_id: str, addr: str | None) -> None:
        self._forget(self._key(meeting_id, addr))
