"""Malformed request bodies on every route: a 400 or 413 that says what was wrong, never a 500,
and nothing logged as an error."""

from __future__ import annotations

import logging

import pytest

from control_plane.bodies import nesting_exceeds
from tests.control_plane.meetings_support import create_meeting, user

JSON = {"content-type": "application/json"}
DEEP = b'{"username": ' + b"[" * 1000 + b"]" * 1000 + b', "password": "x"}'  # about 2 KB
DEEP_OBJECTS = b'{"a":' * 1000 + b"1" + b"}" * 1000


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], bad


async def test_malformed_bodies_are_answered_400_or_413_on_every_route(control_plane, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with control_plane(accounts={"allow_registration": True}) as cp:
        host = await user(cp, "hanna", "host")
        meeting = await create_meeting(cp, host, title="Doors", allow_guests=True)
        routes = {"login": ("/api/v1/auth/login", {}), "register": ("/api/v1/auth/register", {}),
                  "create": ("/api/v1/meetings", host), "join": (f"/api/v1/meetings/{meeting['id']}/join", {})}
        cases = [
            (DEEP, 400, "the JSON body nests arrays and objects more than 32 deep"),
            (DEEP_OBJECTS, 400, "the JSON body nests arrays and objects more than 32 deep"),
            (b'{"username": "\xff\xfe", "password": "x"}', 400, "the request body is not valid UTF-8 (at byte 14)"),
            (b'{"username": "a", ', 400, "the request body is not valid JSON: Input data was truncated"),
            (b'{"a": 1} {', 400, "the request body is not valid JSON: JSON is malformed: trailing characters (byte 10)"),
            (b"x" * (64 * 1024 + 1), 413, "the request body is larger than 65536 bytes, the most this server accepts"),
        ]
        for name, (path, headers) in routes.items():
            for body, status, detail in cases:
                r = await cp.client.post(path, content=body, headers={**JSON, **headers})
                assert (r.status_code, r.json()["detail"]) == (status, detail), (name, body[:40], r.text)
                assert r.json()["error"] == ("too_large" if status == 413 else "bad_request")
            # The wrong JSON type where an object belongs: the body is named.
            r = await cp.client.post(path, content=b"[1, 2]", headers={**JSON, **headers})
            assert r.status_code == 400, (name, r.text)
            expected = "Expected `object | null`, got `array`" if name == "join" else "Expected `object`, got `array`"
            assert r.json()["fields"] == [{"field": "body", "message": expected}], name
        r = await cp.client.post("/api/v1/auth/login", json={"username": ["a"], "password": "x"})
        assert r.status_code == 400
        assert r.json()["fields"] == [{"field": "username", "message": "Expected `str`, got `array`"}]
        # The doors still open for a well-formed body.
        r = await cp.client.post("/api/v1/auth/login", json={"username": "hanna", "password": "a-long-test-password"})
        assert r.status_code == 200, r.text
    _no_errors_logged(caplog)


async def test_the_limits_are_settings_and_deep_json_past_the_decoder_is_still_a_400(control_plane, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with control_plane(clients={"max_body_bytes": 200_000, "max_json_depth": 100_000}) as cp:
        deep = b'{"username": ' + b"[" * 20_000 + b"]" * 20_000 + b', "password": "x"}'
        r = await cp.client.post("/api/v1/auth/login", content=deep, headers=JSON)
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == "the JSON body nests arrays and objects too deep"
        r = await cp.client.post("/api/v1/auth/login", content=b" " * 150_000 + b"{}", headers=JSON)
        assert r.status_code == 400 and r.json()["fields"][0]["message"] == "Object missing required field `username`"
    _no_errors_logged(caplog)


def test_nesting_is_counted_outside_strings() -> None:
    assert not nesting_exceeds(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 4)
    assert not nesting_exceeds(b'{"a": "\\"[[[[[[[[[[[[[[[", "b": [[1]]}', 3)
    assert nesting_exceeds(b'{"a": "\\"", "b": [[[1]]]}', 3)
    assert not nesting_exceeds(b"[[]]" * 100, 2)
    assert nesting_exceeds(b"[[[]]]", 2)
