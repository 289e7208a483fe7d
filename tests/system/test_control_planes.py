"""Two control planes side by side on one PostgreSQL (and one NATS), as behind one load balancer:
sessions and sign-in limits are shared, either serves what the other wrote, the edges' events are
applied once and in order by whichever reads them, one SIGKILLed mid-use loses nothing the other
cannot serve, and a PostgreSQL outage is a 503 that heals by itself."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nodes import subjects, wire
from tests.control_plane.conftest import OIDC_ACCOUNTS, oidc_settings
from tests.control_plane.meetings_support import nats_client, place
from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.oidc import OidcProvider, browser_login, oidc_provider_available
from tests.support.postgres import Postgres, postgres_available
from tests.support.util import eventually_sync, require


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    require(postgres_available(), "PostgreSQL (apt-get install postgresql)")
    server = Postgres(tmp_path).start()
    try:
        yield server
    finally:
        server.cleanup()


def status(cp: procs.Proc, path: str = "/readyz", **kw: object) -> int:
    return httpx.get(cp.base_url + path, timeout=5, **kw).status_code  # type: ignore[arg-type]


def joined(meeting_id: str, pid: str) -> wire.ParticipantJoined:
    return wire.ParticipantJoined(meeting_id=meeting_id, edge_id="edge-x", participant_id=pid, account_id=f"acc-{pid}",
                                  display_name=pid)


async def publish(nats_url: str, events: list[wire.Event]) -> None:
    """Publish *events* to the events stream as their edge would."""
    async with nats_client(nats_url) as nc:
        js = nc.jetstream()
        for event in events:
            await js.publish(subjects.event(event.edge_id, event.meeting_id, wire.EVENT_KIND[type(event)]),
                             wire.encode(event), headers={"Nats-Msg-Id": event.event_id})


def present(cp: procs.Proc, meeting_id: str, headers: dict[str, str]) -> list[str]:
    r = httpx.get(f"{cp.base_url}/api/v1/meetings/{meeting_id}/participants", headers=headers, timeout=5)
    return sorted(p["participant_id"] for p in r.json()["participants"]) if r.status_code == 200 else []


def pair(tmp_path: Path, nats_url: str, db_url: str, **extra: Any) -> tuple[procs.Proc, procs.Proc]:
    """Two control planes on one database, one key folder and one public URL (the first's port)."""
    shared = {"database": {"url": db_url, "path": ""}, "keys": {"dir": str(tmp_path / "keys")},
              "bootstrap": {"admin_password_file": str(tmp_path / "admin-password")},
              "accounts": {"login_attempts_per_account": 3}, "meetings": {"sweep_interval": 0.5}, **extra}
    a = procs.control_plane(tmp_path, nats_url, name="cp-a", **shared)
    b = procs.control_plane(tmp_path, nats_url, name="cp-b", public_url=a.base_url, **shared)
    return a, b


def test_two_control_planes_share_one_postgres(tmp_path: Path, nats_server: NatsServer, postgres: Postgres) -> None:
    a, b = pair(tmp_path, nats_server.url, postgres.create_database("cc"))
    a.start()
    b.start()   # at the same time: migrations and the first admin are made once
    try:
        for cp in (a, b):
            eventually_sync(lambda cp=cp: status(cp) == 200, timeout=30, what=f"{cp.name} ready")
        admin = procs.admin_headers(a)                       # a session made on A …
        assert httpx.get(b.base_url + "/api/v1/auth/me", headers=admin, timeout=5).status_code == 200  # … valid on B
        assert postgres.sql("SELECT count(*) FROM accounts", "cc") == "1\n"

        # Sign-in failures counted together: 3 wrong passwords, spread over both, lock the name on both.
        wrong = {"username": "mallory", "password": "not-it"}
        for cp in (a, b, a):
            assert httpx.post(cp.base_url + "/api/v1/auth/token", json=wrong, timeout=10).status_code == 401
        for cp in (a, b):
            r = httpx.post(cp.base_url + "/api/v1/auth/token", json=wrong, timeout=10)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0

        # Written on one, read on the other.
        r = httpx.post(a.base_url + "/api/v1/meetings", json={"title": "Made on A"}, headers=admin, timeout=10)
        assert r.status_code == 201, r.text
        assert httpx.get(f"{b.base_url}/api/v1/meetings/{r.json()['id']}", headers=admin,
                         timeout=5).json()["title"] == "Made on A"

        # Edges' events reach the meeting once each, in order, whichever control plane reads them.
        mid = r.json()["id"]
        asyncio.run(place(nats_server.url, mid, "edge-x"))
        batch = [wire.MeetingStarted(meeting_id=mid, edge_id="edge-x", epoch=1)]
        for i in range(6):
            batch.append(joined(mid, f"p{i}"))
            if i % 2:
                batch.append(wire.ParticipantLeft(meeting_id=mid, edge_id="edge-x", participant_id=f"p{i - 1}"))
        asyncio.run(publish(nats_server.url, batch))
        for cp in (a, b):
            eventually_sync(lambda cp=cp: present(cp, mid, admin) == ["p1", "p3", "p5"], timeout=15,
                            what=f"the roster on {cp.name}")
        assert postgres.sql("SELECT count(*) FROM applied_events", "cc") == f"{len(batch)}\n"

        # A is killed while meetings are being created on it: every one it answered 201 is there on B.
        created: list[str] = []
        stop = threading.Event()

        def create_on_a(i: int) -> None:
            with httpx.Client(base_url=a.base_url, headers=admin, timeout=10) as http:
                n = 0
                while not stop.is_set():
                    try:
                        r = http.post("/api/v1/meetings", json={"title": f"busy {i}-{n}"})
                    except httpx.HTTPError:
                        return                                 # A is gone
                    if r.status_code == 201:
                        created.append(r.json()["id"])
                    n += 1

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            busy = [pool.submit(create_on_a, i) for i in range(4)]
            eventually_sync(lambda: len(created) >= 8, timeout=30, what="meetings created on A")
            a.kill()                                           # SIGKILL, requests in flight
            stop.set()
            for f in busy:
                f.result()
        # B reads the events stream now (if A held the database's lock for it, until its session ended).
        def b_reads() -> bool:
            said = [r["msg"] for r in b.log_records() if "events stream" in str(r.get("msg"))]
            return bool(said) and said[-1].startswith("reading the events stream")
        eventually_sync(b_reads, timeout=15, what="B reading the events")
        later = [joined(mid, "p6"), wire.ParticipantLeft(meeting_id=mid, edge_id="edge-x", participant_id="p1")]
        asyncio.run(publish(nats_server.url, later))
        # (45 s: should a pull request of the killed A still have taken one, it comes back after ack_wait.)
        eventually_sync(lambda: present(b, mid, admin) == ["p3", "p5", "p6"], timeout=45, what="later events on B")
        assert postgres.sql("SELECT count(*) FROM applied_events", "cc") == f"{len(batch) + len(later)}\n"
        listed = httpx.get(b.base_url + "/api/v1/meetings", headers=admin, timeout=10)
        assert listed.status_code == 200
        assert set(created) <= {m["id"] for m in listed.json()}
        assert status(b) == 200
        r = httpx.post(b.base_url + "/api/v1/meetings", json={"title": "Made on B"}, headers=admin, timeout=10)
        assert r.status_code == 201

        # PostgreSQL goes away: not ready, and the API answers 503 (no 500, no traceback) …
        postgres.stop()
        eventually_sync(lambda: status(b) == 503, timeout=15, what="B not ready without its database")
        assert httpx.get(b.base_url + "/readyz", timeout=5).json()["checks"]["database"] is False
        r = httpx.get(b.base_url + "/api/v1/meetings", headers=admin, timeout=10)
        assert r.status_code == 503 and r.json()["error"] == "database_unavailable", r.text
        assert status(b, "/healthz") == 200
        # … and B comes back by itself when it returns.
        postgres.start()
        eventually_sync(lambda: status(b) == 200, timeout=30, what="B ready again")
        r = httpx.get(b.base_url + "/api/v1/meetings", headers=admin, timeout=10)
        assert r.status_code == 200 and "Made on B" in {m["title"] for m in r.json()}
    finally:
        for cp in (a, b):
            cp.kill()


async def test_an_oidc_sign_in_started_on_one_finishes_on_the_other(tmp_path: Path, nats_server: NatsServer,
                                                                   postgres: Postgres) -> None:
    require(oidc_provider_available(), "node and tests/js/node_modules (npm ci in tests/js)")
    a, b = pair(tmp_path, nats_server.url, postgres.create_database("cc"))
    callback = f"{a.base_url}/api/v1/auth/oidc/test/callback"        # the public URL is A's
    provider = OidcProvider(tmp_path, redirect_uris=[callback], accounts=OIDC_ACCOUNTS).start()
    for cp in (a, b):
        cp.config["oidc"] = [oidc_settings(provider)]
    a.start()
    b.start()
    try:
        for cp in (a, b):
            eventually_sync(lambda cp=cp: status(cp) == 200, timeout=30, what=f"{cp.name} ready")
        async with httpx.AsyncClient(timeout=10) as browser:        # one cookie jar: 127.0.0.1, any port
            r = await browser.get(b.base_url + "/api/v1/auth/oidc/test/start")   # started on B …
            assert r.status_code == 302, r.text
            back = await browser_login(r.headers["location"], "alice", redirect_prefix=callback)
            done = await browser.get(back.url)                                  # … finished on A
            assert done.status_code == 302, done.text
            for cp in (a, b):
                me = await browser.get(cp.base_url + "/api/v1/auth/me")
                assert me.status_code == 200 and me.json()["account"]["username"] == "alice"
            replay = await browser.get(back.url.replace(a.base_url, b.base_url))  # the state is used up
            assert replay.status_code == 400
    finally:
        for cp in (a, b):
            cp.kill()
        provider.stop()
