"""Refusals on the WebSocket signaling endpoint: each gets the right error; only a failed
authentication (and a bad Origin) closes the socket."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.edge.edge_support import MEETING, MODERATOR, VIEWER, Client, EdgeServer, TokenKit, joined_client
from tests.edge.test_protocol import OFFER


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def bad_tokens(tokens: TokenKit) -> dict[str, tuple[str, str]]:
    """name → (token, expected error code)."""
    forger = TokenKit(kid=tokens.kid)        # same kid, another private key
    stranger = TokenKit()                    # a key the edge has never heard of
    claims = tokens.claims()
    return {
        "forged signature": (forger.sign(), "bad_signature"),
        "expired": (tokens.sign(iat=int(time.time()) - 600, exp=int(time.time()) - 60), "expired"),
        "another key": (stranger.sign(), "unknown_key"),
        "alg none": (f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.kid})}.{b64(claims)}.", "bad_algorithm"),
        "another edge": (tokens.sign(eid="edge-elsewhere"), "wrong_edge"),
        "garbage": ("not-a-token", "malformed"),
    }


@pytest.mark.parametrize("case", ["forged signature", "expired", "another key", "alg none", "another edge",
                                  "garbage"])
async def test_a_bad_token_is_an_error_then_close_4001(edge: EdgeServer, tokens: TokenKit, case: str) -> None:
    token, code = bad_tokens(tokens)[case]
    c = await Client.open(edge.ws_url())
    await c.send({"type": "join", "id": "j1", "token": token, "meeting_id": MEETING})
    err = await c.error(code)
    assert err["re"] == "j1" and err["field"] == "token" and err["message"]
    close_code, reason = await c.closed()
    assert close_code == 4001 and reason.startswith(code)
    assert edge.node.conference.meetings == {}           # nothing was created


async def test_a_token_for_another_meeting_is_refused(edge: EdgeServer, tokens: TokenKit) -> None:
    c = await Client.open(edge.ws_url())
    await c.send({"type": "join", "token": tokens.sign(mid="other-meeting"), "meeting_id": MEETING})
    err = await c.error("wrong_meeting")
    assert err["field"] == "meeting_id"
    assert (await c.closed())[0] == 4001
    c2 = await Client.open(edge.ws_url(meeting=MEETING))        # the meeting in the URL is checked too
    await c2.send({"type": "join", "token": tokens.sign(mid="other-meeting")})
    assert (await c2.error("wrong_meeting"))["field"] == "meeting"
    assert (await c2.closed())[0] == 4001


async def test_the_meeting_id_is_required(edge: EdgeServer, tokens: TokenKit) -> None:
    c = await Client.open(edge.ws_url())
    await c.send({"type": "join", "token": tokens.sign()})
    err = await c.error("invalid")
    assert err["field"] == "meeting_id"
    assert await c.is_open()
    assert (await c.join(tokens.sign()))["type"] == "joined"    # and the same socket can still join


async def test_bad_messages_get_errors_and_the_socket_stays_open(edge: EdgeServer, tokens: TokenKit) -> None:
    c = await Client.open(edge.ws_url())
    await c.send("{this is not json")
    assert "not a JSON message" in (await c.error("bad_json"))["message"]
    await c.send({"type": "teleport", "id": 5})
    err = await c.error("unknown_type")
    assert err["re"] == 5 and err["field"] == "type"
    await c.send({"type": "chat", "id": "before"})
    err = await c.error("invalid")                        # a missing field is named
    assert err["field"] == "text" and err["re"] == "before"
    await c.send({"type": "chat", "id": "c0", "text": "hi"})
    err = await c.error("not_joined")                     # a message before join
    assert err["re"] == "c0"
    await c.send({"type": "offer", "sdp": "v=0"})
    await c.error("not_joined")
    await c.send("x" * (1 << 20))                         # a 1 MiB frame
    err = await c.error("too_large")
    assert "1048576 bytes" in err["message"] and "65536" in err["message"]
    assert await c.is_open()
    await c.join(tokens.sign())
    await c.send({"type": "join", "id": "again", "token": tokens.sign(), "meeting_id": MEETING})
    assert (await c.error("already_joined"))["re"] == "again"
    await c.send({"type": "chat", "id": "big", "text": "y" * 2001})
    err = await c.error("too_long")
    assert err["field"] == "text" and err["re"] == "big"
    await c.send({"type": "chat", "text": "   "})
    assert (await c.error("invalid"))["field"] == "text"
    await c.send({"type": "answer", "pc": "publish", "sdp": "v=0"})
    assert (await c.error("invalid"))["field"] == "pc"
    assert await c.is_open()


async def test_permissions_from_the_token_are_enforced(edge: EdgeServer, tokens: TokenKit) -> None:
    mod = await joined_client(edge, tokens.sign(name="Mod", perms=MODERATOR))
    viewer = await joined_client(edge, tokens.sign(name="Viewer", perms=VIEWER))
    other = viewer.joined["participant_id"]
    target = mod.joined["participant_id"]

    await viewer.send({"type": "chat", "id": 1, "text": "hello"})
    assert "may not chat" in (await viewer.error("forbidden"))["message"]
    await viewer.send({"type": "offer", "id": 2, "pc": "publish", "sdp": OFFER, "sources": {"0": "microphone",
                                                                                           "1": "camera"}})
    err = await viewer.error("forbidden")
    assert err["field"] == "sources" and "may not publish" in err["message"] and err["re"] == 2
    for msg, what in (({"type": "kick", "participant_id": target}, "kick"),
                      ({"type": "mute", "participant_id": target, "source": "microphone"}, "mute others"),
                      ({"type": "admit", "participant_id": target}, "admit"),
                      ({"type": "deny", "participant_id": target}, "deny"),
                      ({"type": "promote", "participant_id": target}, "promote"),
                      ({"type": "end_meeting"}, "end the meeting")):
        await viewer.send({**msg, "id": what})
        err = await viewer.error("forbidden")
        assert err["re"] == what and f"only moderators may {what}" in err["message"]
    # a moderator may mute someone, but not unmute them
    await mod.send({"type": "mute", "id": "u", "participant_id": other, "source": "microphone", "muted": False})
    err = await mod.error("forbidden")
    assert err["field"] == "muted"
    await mod.send({"type": "kick", "id": "k", "participant_id": "nobody"})
    err = await mod.error("not_found")
    assert err["field"] == "participant_id"
    # nothing changed: both still in, nobody muted
    roster = {p["participant_id"]: p for p in (await _roster(edge, tokens))}
    assert set(roster) >= {target, other} and roster[other]["muted"] == []
    assert await viewer.is_open() and await mod.is_open()


async def _roster(edge: EdgeServer, tokens: TokenKit) -> list[dict]:
    probe = await joined_client(edge, tokens.sign(name="Probe"))
    roster = probe.joined["roster"]
    await probe.send({"type": "leave"})
    await probe.closed()
    return roster


async def test_a_socket_that_never_joins_is_closed(make_edge) -> None:
    async with make_edge(signaling={"join_timeout": 0.3}) as server:
        c = await Client.open(server.ws_url())
        await c.error("join_timeout")
        assert (await c.closed())[0] == 4004


async def test_a_silent_socket_is_closed_after_the_idle_timeout(make_edge, tokens: TokenKit) -> None:
    async with make_edge(signaling={"idle_timeout": 0.5}) as server:
        c = await joined_client(server, tokens.sign())
        code, reason = await c.closed()
        assert code == 4008 and "nothing heard" in reason


async def test_origin_is_checked(make_edge, tokens: TokenKit) -> None:
    async with make_edge(signaling={"allowed_origins": ["https://meet.example.org"]}) as server:
        bad = await Client.open(server.ws_url(), origin="https://evil.example.com")
        err = await bad.error("origin_not_allowed")
        assert "evil.example.com" in err["message"]
        assert await bad.closed() == (4003, "origin not allowed")
        good = await Client.open(server.ws_url(), origin="https://meet.example.org")
        assert (await good.join(tokens.sign()))["type"] == "joined"
        bare = await Client.open(server.ws_url())       # no Origin at all: not a browser, allowed
        assert (await bare.join(tokens.sign()))["type"] == "joined"
