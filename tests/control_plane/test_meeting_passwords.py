"""Guessing a meeting's password is slowed down per meeting and client address."""

from __future__ import annotations

import pytest
from litestar.exceptions import TooManyRequestsException

from control_plane.auth.ratelimit import GuessLimiter
from tests.control_plane.meetings_support import client_at, create_meeting, nats_overrides, user, wait_ready


async def test_wrong_passwords_are_limited_per_meeting_and_address(control_plane, nats_server) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        m = await create_meeting(cp, host, password="open-sesame", allow_guests=True)
        other = await create_meeting(cp, host, password="other-one", allow_guests=True)
        limit = cp.services.joins.guesses.limit
        async with client_at(cp, "198.51.100.7") as guesser, client_at(cp, "198.51.100.8") as neighbour:
            url = f"/api/v1/meetings/{m['id']}/join"
            for i in range(limit):
                r = await guesser.post(url, json={"display_name": "G", "password": f"guess-{i}"})
                assert r.status_code == 403 and r.json()["detail"] == "password: is wrong"
            r = await guesser.post(url, json={"display_name": "G", "password": "guess-x"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert "too many wrong passwords for this meeting" in r.json()["detail"]
            # While limited, even the right password is refused from that address …
            r = await guesser.post(url, json={"display_name": "G", "password": "open-sesame"})
            assert r.status_code == 429
            # … but another address is not locked out, nor is another meeting from the same address.
            r = await neighbour.post(url, json={"display_name": "N", "password": "wrong"})
            assert r.status_code == 403
            r = await guesser.post(f"/api/v1/meetings/{other['id']}/join",
                                   json={"display_name": "G", "password": "wrong"})
            assert r.status_code == 403


def test_a_right_password_clears_the_count_and_the_window_slides() -> None:
    now = [0.0]
    g = GuessLimiter(per_meeting_address=2, window=60, clock=lambda: now[0])
    g.failed("m", "a")
    g.succeeded("m", "a")
    g.failed("m", "a")
    g.check("m", "a")          # one failure since the success: still allowed
    g.failed("m", "a")
    with pytest.raises(TooManyRequestsException, match="too many wrong passwords"):
        g.check("m", "a")
    now[0] += 61
    g.check("m", "a")          # the window moved on
