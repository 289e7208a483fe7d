"""Signed webhooks with real processes: nats-server, the control plane and an edge; two aiortc
participants join a meeting, the control plane is killed (SIGKILL) and one of them leaves while it
is down, then an admin ends the meeting. Two real HTTP receivers: one answers 500 to the first two
attempts of every message and 204 after, the other never answers at all. The first still gets
every event within seconds, each attempt signed (Standard Webhooks) and carrying the same
``webhook-id``; the delivery log shows three attempts for each, and timeouts for the other, whose
queue outlived the restart."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from control_plane.webhooks.signing import verify
from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.participant import Participant
from tests.support.util import eventually
from tests.support.webhooks import Receiver

GOOD_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
HANG_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
TYPES = {"meeting.started", "participant.joined", "participant.left", "meeting.ended"}
#: Messages: the meeting started and ended; Ann and Bob joined and left.
MESSAGES = 6


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path, name="hub").start()
    try:
        yield server
    finally:
        server.stop()


async def test_signed_webhooks_are_retried_and_a_hanging_endpoint_stalls_nobody(nats: NatsServer,
                                                                                tmp_path: Path) -> None:
    good, hang = await Receiver(failures=2).start(), await Receiver(hang=True).start()
    cp = procs.control_plane(tmp_path, nats.url, webhooks={
        "max_attempts": 6, "backoff_base": 0.2, "backoff_max": 1.0,
        "endpoints": [{"name": "good", "url": good.url, "secret": GOOD_SECRET},
                      {"name": "hang", "url": hang.url, "secret": HANG_SECRET, "timeout": 1.0,
                       "events": ["meeting.started", "meeting.ended"]}]}).start()
    edge = procs.edge(tmp_path, nats.url, "edge-1", heartbeat={"interval": 0.5}).start()   # both start at once
    ann: Participant | None = None
    bob: Participant | None = None
    try:
        cp.wait_http("/readyz", timeout=30)
        edge.wait_http("/readyz", timeout=30)
        procs.wait_edges(cp, "edge-1")
        admin = procs.admin_headers(cp)
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
            r = await http.post("/api/v1/meetings", json={"title": "Hooks", "allow_guests": True}, headers=admin)
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            ann = await Participant.join(cp.base_url, mid, "Ann")
            bob = await Participant.join(cp.base_url, mid, "Bob")
            await eventually(lambda: len({h["webhook-id"] for _, h, _ in good.requests}) >= 3 and hang.requests,
                             timeout=15, what="the first events sent to both endpoints")

            # The control plane dies; an event raised meanwhile waits in JetStream, and what was
            # queued (the hanging endpoint's first message) is tried again once it is back.
            cp.kill()
            await bob.close()
            restarted = time.monotonic()
            cp.start()
            cp.wait_http("/readyz", timeout=30)
            procs.wait_edges(cp, "edge-1")  # ending the meeting asks its edge
            first_hang_id = hang.requests[0][1]["webhook-id"]
            await eventually(lambda: any(t > restarted for t, _, _ in hang.of(first_hang_id)), timeout=15,
                             what="the hanging endpoint's queue resumed after the restart")
            r = await http.post(f"/api/v1/meetings/{mid}/end", json={"reason": "done"}, headers=admin)
            assert r.status_code == 200, r.text
            ended = time.monotonic()

            def delivered() -> dict[str, dict]:
                out, done = {}, set()
                for _, headers, body in good.requests:
                    msg = json.loads(body)
                    if msg["data"].get("meeting_id") == mid and len(good.of(headers["webhook-id"])) >= 3:
                        out[msg["type"]] = msg
                        done.add(headers["webhook-id"])
                return out if set(out) == TYPES and len(done) == MESSAGES else {}
            # Each event: taken in once the control plane applied it, then three attempts 0.2 s and
            # 0.4 s apart, while the other endpoint's queue hangs on its 1 s timeouts.
            got = await eventually(delivered, timeout=20, interval=0.1, what="every event delivered to 'good'")
            assert time.monotonic() - ended < 15
            names = {json.loads(b)["data"].get("display_name") for _, _, b in good.requests}
            assert {"Ann", "Bob"} <= names
            assert got["meeting.ended"]["data"]["reason"] == "ended"
            assert got["meeting.started"]["timestamp"].endswith("Z")

            ids = {h["webhook-id"] for _, h, _ in good.requests}
            assert len(ids) == MESSAGES and all(i.startswith("msg_") for i in ids)
            for webhook_id in ids:
                attempts = good.of(webhook_id)
                # two 500s, then 204 and no more (one more if the control plane died after sending
                # an attempt and before recording it: at least once)
                assert len(attempts) in (3, 4), attempts
                assert len({body for _, _, body in attempts}) == 1        # the same body every time
                for _, headers, body in attempts:                          # each attempt signed afresh
                    assert verify(GOOD_SECRET, headers, body), headers
                    assert not verify(HANG_SECRET, headers, body)
                    assert headers["content-type"] == "application/json"
                if attempts[0][0] > ended:                                   # backing off (no restart between)
                    gaps = [b[0] - a[0] for a, b in zip(attempts, attempts[1:])]
                    assert 0.15 < gaps[0] < gaps[1], gaps
            assert hang.requests and {h["webhook-id"] for _, h, _ in hang.requests} <= ids
            assert all(verify(HANG_SECRET, h, b) for _, h, b in hang.requests)

            async def log(**params: str) -> list[dict]:
                r = await http.get("/api/v1/webhooks/deliveries", params=params, headers=admin)
                assert r.status_code == 200, r.text
                return r.json()
            async def all_delivered() -> list[dict]:
                # (the receiver has the last attempt before the control plane has its answer and logs it)
                rows = await log(endpoint="good")
                return rows if len(rows) == MESSAGES and all(d["status"] == "delivered" for d in rows) else []
            done = await eventually(all_delivered, timeout=10, what="every message to the good endpoint logged")
            assert {d["type"] for d in done} == TYPES
            assert all(d["status"] == "delivered" and d["last_status"] == 204 and d["delivered_at"]
                       and d["meeting_id"] == mid for d in done), done
            for d in done:
                # the log counts the attempts the control plane recorded: all the receiver saw, or one
                # fewer when the control plane was killed after sending one and before recording it
                seen = len(good.of(d["webhook_id"]))
                assert seen - 1 <= d["attempts"] <= seen and d["attempts"] >= 2, (d, seen)
            assert await log(endpoint="good", status="pending") == []

            async def timed_out() -> list[dict]:
                rows = await log(endpoint="hang")
                return rows if len(rows) == 2 and all("timed out" in d["last_error"] for d in rows) else []
            hung = await eventually(timed_out, timeout=10, what="the hanging endpoint's timeouts in the log")
            assert {d["type"] for d in hung} == {"meeting.started", "meeting.ended"}   # its `events` filter
            assert all(d["status"] == "pending" and d["last_status"] is None and d["next_attempt_at"] for d in hung)

            # Only admins read the log; a wrong filter is the caller's error.
            assert (await http.get("/api/v1/webhooks/deliveries")).status_code == 401
            r = await http.post("/api/v1/accounts", json={"username": "max", "password": "max-password-1"},
                                headers=admin)
            assert r.status_code == 201, r.text
            r = await http.post("/api/v1/auth/token", json={"username": "max", "password": "max-password-1"})
            member = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.get("/api/v1/webhooks/deliveries", headers=member)
            assert r.status_code == 403 and "admin" in r.text, r.text
            r = await http.get("/api/v1/webhooks/deliveries", params={"status": "lost"}, headers=admin)
            assert r.status_code == 400 and "status" in r.text, r.text
            r = await http.get("/api/v1/webhooks/deliveries", params={"limit": "0"}, headers=admin)
            assert r.status_code == 400, r.text
    finally:
        for p in (ann, bob):
            if p is not None:
                with contextlib.suppress(Exception):
                    await p.close()
        edge.stop()
        cp.stop()
        await good.stop()
        await hang.stop()
