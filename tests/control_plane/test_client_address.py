"""The client address behind trusted proxies, used by every limit and by placement, and limit
maps that forget what has left their window."""

from __future__ import annotations

import logging

import pytest
from litestar.exceptions import TooManyRequestsException

from control_plane.auth.ratelimit import GuessLimiter, LoginLimiter
from control_plane.clients import TrustedProxies
from tests.control_plane.conftest import login
from tests.control_plane.meetings_support import (
    create_meeting,
    edges,  # noqa: F401 - the fixture
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)

PROXIES = ["10.0.0.0/24", "fd00:1::/64"]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    p = TrustedProxies(PROXIES)
    # An untrusted peer: its header proves nothing.
    assert p.client("192.0.2.9", ["198.51.100.1"]) == "192.0.2.9"
    assert TrustedProxies().client("10.0.0.5", ["198.51.100.1"]) == "10.0.0.5"
    # A trusted peer: the rightmost hop that is not a trusted proxy; what the sender wrote on the left is ignored.
    assert p.client("10.0.0.5", ["6.6.6.6, 198.51.100.1"]) == "198.51.100.1"
    assert p.client("10.0.0.5", ["6.6.6.6", "198.51.100.1, 10.0.0.7"]) == "198.51.100.1"  # two headers, two proxies
    assert p.client("10.0.0.5", ["10.0.0.8, 10.0.0.7"]) == "10.0.0.8"  # all trusted: the leftmost
    assert p.client("10.0.0.5", []) == "10.0.0.5"  # no header: the proxy itself
    assert p.client("10.0.0.5", ["not-an-ip, 10.0.0.7"]) == "10.0.0.7"  # garbage stops the walk
    assert p.client("10.0.0.5", ["198.51.100.1:4711"]) == "198.51.100.1"  # with a port
    assert p.client("fd00:1::2", ["[2001:db8::1]:443"]) == "2001:db8::1"
    assert p.client("::ffff:10.0.0.5", ["198.51.100.1"]) == "198.51.100.1"  # IPv4-mapped peer
    assert p.client(None, ["198.51.100.1"]) == "unknown"


async def test_behind_a_trusted_proxy_one_client_does_not_lock_out_another(control_plane, caplog) -> None:
    caplog.set_level(logging.INFO, logger="control_plane.auth.ratelimit")
    async with control_plane(clients={"trusted_proxies": PROXIES},
                             accounts={"login_attempts_per_account": 100, "login_attempts_per_address": 3}) as cp:
        await cp.add_account("maria", "maria-password-1")
        balancer = cp.browser("10.0.0.5")  # every request arrives from the load balancer
        attacker = {"X-Forwarded-For": "198.51.100.66"}
        for name in ("a", "b", "c"):
            r = await balancer.post("/api/v1/auth/login", json={"username": name, "password": "spray"},
                                    headers=attacker)
            assert r.status_code == 401
        r = await balancer.post("/api/v1/auth/login", json={"username": "d", "password": "spray"}, headers=attacker)
        assert r.status_code == 429
        assert r.json()["detail"].startswith("too many failed sign-in attempts for this address")
        reached = [r for r in caplog.records if r.getMessage() == "sign-in limit reached for a client address"]
        assert [(r.levelno, r.client, r.username) for r in reached] == [(logging.WARNING, "198.51.100.66", "c")]
        # Someone else behind the same balancer signs in, and the session records their address.
        r = await balancer.post("/api/v1/auth/login", json={"username": "maria", "password": "maria-password-1"},
                                headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 200, r.text
        row = await cp.services.db.fetch_one("SELECT client_addr FROM sessions ORDER BY created_at DESC LIMIT 1")
        assert row["client_addr"] == "198.51.100.7"


async def test_from_an_untrusted_peer_the_header_is_ignored(control_plane) -> None:
    async with control_plane(clients={"trusted_proxies": PROXIES},
                             accounts={"login_attempts_per_account": 100, "login_attempts_per_address": 3}) as cp:
        attacker = cp.browser("192.0.2.66")
        for i in range(3):  # a new made-up address each time does not buy new attempts
            r = await attacker.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "spray"},
                                    headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
            assert r.status_code == 401
        r = await attacker.post("/api/v1/auth/login", json={"username": "admin", "password": cp.admin_password},
                                headers={"X-Forwarded-For": "198.51.100.200"})
        assert r.status_code == 429 and "for this address" in r.json()["detail"]
        assert (await login(cp.browser("192.0.2.7"), "admin", cp.admin_password)).status_code == 200


async def test_meeting_passwords_and_placement_use_the_forwarded_client(control_plane, nats_server, edges,
                                                                      caplog) -> None:
    caplog.set_level(logging.INFO, logger="control_plane.auth.ratelimit")
    async with control_plane(**nats_overrides(nats_server.url), clients={"trusted_proxies": PROXIES},
                             placement={"regions": {"198.51.100.0/24": "eu"}}, default_region="us") as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        up = [await edges("eu-1", region="eu"), await edges("us-1", region="us")]
        await wait_edges(cp, "eu-1", "us-1")
        m = await create_meeting(cp, host, password="open-sesame", allow_guests=True)
        url = f"/api/v1/meetings/{m['id']}/join"
        balancer = cp.browser("10.0.0.5")
        guesser, neighbour = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
        for i in range(cp.services.joins.guesses.limit):
            r = await balancer.post(url, json={"display_name": "G", "password": f"guess-{i}"}, headers=guesser)
            assert r.status_code == 403
        r = await balancer.post(url, json={"display_name": "G", "password": "open-sesame"}, headers=guesser)
        assert r.status_code == 429 and "too many wrong passwords" in r.json()["detail"]
        reached = [r for r in caplog.records if r.getMessage() == "meeting password limit reached"]
        assert [(r.levelno, r.meeting_id, r.client) for r in reached] == [(logging.WARNING, m["id"], "203.0.113.9")]
        r = await balancer.post(url, json={"display_name": "N", "password": "open-sesame"}, headers=neighbour)
        assert r.status_code == 200, r.text
        assert (r.json()["region"], r.json()["edge_id"]) == ("eu", "eu-1")  # placed by the forwarded address
        for e in up:
            await e.stop()


def test_limit_entries_expire_and_the_maps_stay_bounded() -> None:
    now = [1000.0]
    limiter = LoginLimiter(per_account=5, per_address=20, window=60, clock=lambda: now[0], max_keys=500)
    for i in range(200):
        limiter.failed(f"user{i}", f"198.51.100.{i % 250}")
    assert len(limiter) == 400  # an account key and an address key each
    now[0] += 61
    limiter.failed("late", "192.0.2.1")  # every failure sweeps what left the window
    assert len(limiter) == 2
    limiter.sweep()
    assert len(limiter) == 2
    now[0] += 61
    limiter.sweep()
    assert len(limiter) == 0

    for i in range(2000):  # more distinct clients than the map holds: the oldest go first
        limiter.failed("same", f"203.0.{i // 250}.{i % 250}")
        now[0] += 0.001
    assert len(limiter) == 500
    assert len(limiter._fails["user:same"]) == 5  # noqa: SLF001 - a key holds no more than its limit

    strict = LoginLimiter(per_account=100, per_address=1, window=60, clock=lambda: now[0], max_keys=10)
    for i in range(20):
        strict.failed("same", f"198.51.100.{i}")
        now[0] += 0.001
    assert len(strict) == 10
    strict.check_login("other", "198.51.100.0")  # failed longest ago: dropped to make room
    with pytest.raises(TooManyRequestsException, match="for this address"):
        strict.check_login("other", "198.51.100.19")  # the latest are still held

    guesses = GuessLimiter(per_meeting_address=3, window=60, clock=lambda: now[0])
    for i in range(50):
        guesses.failed("m", f"198.51.100.{i}")
    now[0] += 61
    guesses.failed("m", "192.0.2.1")
    assert len(guesses) == 1


def test_an_ipv6_client_counts_by_its_network() -> None:
    limiter = LoginLimiter(per_account=100, per_address=3, window=60)
    for i in range(3):  # addresses a subscriber can rotate through freely
        limiter.failed(f"u{i}", f"2001:db8:1:2::{i + 1}")
    with pytest.raises(TooManyRequestsException, match="for this address"):
        limiter.check_login("admin", "2001:db8:1:2:ffff::9")
    limiter.check_login("admin", "2001:db8:1:3::1")  # another network
