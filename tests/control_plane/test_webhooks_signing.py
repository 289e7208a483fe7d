"""Webhook signing (the Standard Webhooks scheme), settings refusals, payloads and the delivery
queue's SQL, without processes (tests/system/test_webhooks.py delivers for real)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from control_plane.db import Database, open_database
from control_plane.db.postgres import open_postgres
from control_plane.settings import Settings
from control_plane.webhooks import payloads, signing
from control_plane.webhooks.repository import DeliveryRepository
from nodes import wire
from nodes.settings import SettingsError, load
from tests.support.postgres import Postgres, pg_server  # noqa: F401 - a fixture

# The test vector published with the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_matches_the_standard_webhooks_test_vector() -> None:
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    # … and is what the spec says it is: HMAC-SHA256 over "<id>.<timestamp>.<body>", key base64-decoded
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    by_hand = base64.b64encode(hmac.new(key, f"{SPEC_ID}.{SPEC_TS}.".encode() + SPEC_BODY, hashlib.sha256).digest())
    assert SPEC_SIGNATURE == "v1," + by_hand.decode()


def test_verify_accepts_a_good_signature_and_refuses_the_rest() -> None:
    h = signing.headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, timestamp=SPEC_TS)
    assert h["webhook-signature"] == SPEC_SIGNATURE and h["webhook-timestamp"] == str(SPEC_TS)
    assert signing.verify(SPEC_SECRET, h, SPEC_BODY, now=SPEC_TS + 10)
    # several signatures (a secret being rotated): one matching is enough
    assert signing.verify(SPEC_SECRET, {**h, "webhook-signature": "v1,bm9wZQ== " + SPEC_SIGNATURE}, SPEC_BODY,
                          now=SPEC_TS)
    assert not signing.verify(SPEC_SECRET, h, SPEC_BODY + b" ", now=SPEC_TS)              # body changed
    assert not signing.verify(SPEC_SECRET, {**h, "webhook-id": "msg_other"}, SPEC_BODY, now=SPEC_TS)
    assert not signing.verify(SPEC_SECRET, h, SPEC_BODY, now=SPEC_TS + 301)              # a replay
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert not signing.verify(other, h, SPEC_BODY, now=SPEC_TS)
    assert not signing.verify(SPEC_SECRET, {"webhook-id": SPEC_ID}, SPEC_BODY, now=SPEC_TS)


def _settings(endpoint: dict) -> Settings:
    return msgspec.convert({"webhooks": {"endpoints": [endpoint]}}, Settings)


@pytest.mark.parametrize(("endpoint", "message"), [
    ({"url": "ftp://hooks.example.org/x", "secret": SPEC_SECRET}, "not an http:// or https:// URL"),
    ({"url": "file:///etc/passwd", "secret": SPEC_SECRET}, "not an http:// or https:// URL"),
    ({"url": "https://hooks.example.org/x"}, "`secret`: required"),
    ({"url": "https://hooks.example.org/x", "secret": "hunter2"}, "must start with whsec_"),
    ({"url": "https://hooks.example.org/x", "secret": "whsec_!!!"}, "not base64"),
    ({"url": "https://hooks.example.org/x", "secret": "whsec_YWJj"}, "use 24 to 64 random bytes"),
    ({"url": "https://hooks.example.org/x", "secret": SPEC_SECRET, "events": ["meeting.exploded"]},
     "unknown event type(s) meeting.exploded"),
])
def test_bad_endpoint_settings_are_refused_with_a_clear_message(endpoint: dict, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _settings(endpoint)


def test_settings_file_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "cp.toml"
    path.write_text('[[webhooks.endpoints]]\nurl = "gopher://x"\nsecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\n')
    with pytest.raises(SettingsError, match=r"not an http.*webhooks\.endpoints\[0\]\.url"):
        load(path, Settings)
    secret = tmp_path / "hook.secret"
    secret.write_text(SPEC_SECRET + "\n")
    path.write_text(f'[[webhooks.endpoints]]\nurl = "https://x.example/h"\nsecret_file = "{secret}"\n'
                    '[[webhooks.endpoints]]\nurl = "https://x.example/h"\nsecret_file = "' + str(secret) + '"\n')
    with pytest.raises(SettingsError, match="more than one endpoint named"):
        load(path, Settings)
    s = _settings({"url": "https://x.example/h", "secret_file": str(secret), "events": ["meeting.ended"]})
    e = s.webhooks.endpoints[0]
    assert e.secret == SPEC_SECRET and e.name == "https://x.example/h"
    assert e.wants("meeting.ended") and not e.wants("meeting.started")


def test_payloads_of_events() -> None:
    joined = wire.ParticipantJoined(meeting_id="m1", edge_id="e1", participant_id="p1", display_name="Ann",
                                    role="host", at=1_700_000_000.25)
    msg = payloads.of_event(joined)
    assert msg is not None and msg.webhook_id == f"msg_{joined.event_id}" and msg.type == "participant.joined"
    body = json.loads(msg.body)
    assert body == {"type": "participant.joined", "timestamp": "2023-11-14T22:13:20.250000Z",
                    "data": {"meeting_id": "m1", "edge_id": "e1", "event_id": joined.event_id,
                             "participant_id": "p1", "account_id": "", "display_name": "Ann", "role": "host",
                             "joined_at": "2023-11-14T22:13:20.250000Z"}}
    assert payloads.of_event(wire.MeetingEnded(meeting_id="m1", edge_id="e1", reason="empty")).type == "meeting.ended"
    assert payloads.of_event(wire.TrackPublished(meeting_id="m1", edge_id="e1", participant_id="p", track_id="t",
                                                 kind="video")) is None
    rec = payloads.recording_ready("r1", "m1", state="stopped", reason="stopped by ann", error="",
                                   started_at=1.0, stopped_at=2.0)
    assert rec.webhook_id == "msg_rec_r1" and json.loads(rec.body)["data"]["manifest_url"].endswith("manifest.json")


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        store: Database = await open_database(str(tmp_path / "cp.sqlite3"))
    else:
        server: Postgres = request.getfixturevalue("pg_server")
        store = await open_postgres(server.create_database("hooks"), pool_size=2, connect_wait=10)
    try:
        yield store
    finally:
        await store.close()


async def test_the_queue_takes_a_message_once_and_records_attempts(db: Database) -> None:
    repo = DeliveryRepository(db)
    assert await repo.enqueue("msg_1", "meeting.started", "m1", "{}", ["a", "b"], 100.0) == 2
    assert await repo.enqueue("msg_1", "meeting.started", "m1", "{}", ["a", "b"], 101.0) == 0  # taken in again
    assert [r["webhook_id"] for r in await repo.due("a", 100.0)] == ["msg_1"]
    await repo.attempt_failed("a", "msg_1", 100.0, 500, "HTTP 500", 110.0)
    assert await repo.due("a", 105.0) == [] and await repo.next_due("a") == 110.0
    await repo.delivered("a", "msg_1", 111.0, 204)
    await repo.attempt_failed("b", "msg_1", 100.0, None, "timed out after 5 s", None)
    rows = {r["endpoint"]: r for r in await repo.listing()}
    assert (rows["a"]["status"], rows["a"]["attempts"], rows["a"]["last_status"]) == ("delivered", 2, 204)
    assert (rows["b"]["status"], rows["b"]["last_error"]) == ("failed", "timed out after 5 s")
    assert [r["endpoint"] for r in await repo.listing(status="failed")] == ["b"]
    await repo.enqueue("msg_2", "meeting.ended", "m1", "{}", ["gone"], 120.0)
    assert await repo.abandon_unknown(["a", "b"], 121.0) == 1
    assert await repo.prune(200.0) == 3
    assert await repo.applied_event("nope") is None
