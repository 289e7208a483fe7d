"""Malformed input on both signaling transports gets an ``error`` naming what was wrong, the socket
stays open, and the edge logs no traceback: deep nesting, text that is not UTF-8, frames over the
protocol limit, Socket.IO packets that are not events, and SDP the forwarding core cannot use."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from edge.protocol import lone_surrogate, request_id_of
from nodes.websocket import WS_MAX_BYTES
from tests.edge.edge_support import Client, EdgeServer, TokenKit, joined_client
from tests.edge.input_support import RawSocketIO, documented_close_codes, product_tracebacks, real_offer

DEEP = "[" * 1000 + "]" * 1000          # one frame of about 2 KB, nested 1,000 deep


async def test_a_deeply_nested_frame_is_answered(edge: EdgeServer, caplog: pytest.LogCaptureFixture) -> None:
    c = await Client.open(edge.ws_url())
    await c.send('{"type": "ping", "id": "deep", "extra": ' + DEEP + "}")
    err = await c.error("invalid")
    assert err["re"] == "deep" and "nested too deeply" in err["message"]
    await c.send('{"type": "ping", "id": 7, "t": ' + DEEP + "}")   # the decoder stops at the wrong type
    err = await c.error("invalid")
    assert err["re"] == 7 and err["field"] == "t"
    await c.send(DEEP)
    assert (await c.error("invalid"))["re"] is None
    assert await c.is_open()
    assert product_tracebacks(caplog) == []


async def test_text_that_is_not_utf8_is_answered(edge: EdgeServer, caplog: pytest.LogCaptureFixture) -> None:
    c = await Client.open(edge.ws_url())
    await c.ws.send(b'{"type": "ping", "id": "u", "note": "\xff\xfe"}', text=True)
    err = await c.error("bad_json")
    assert "not UTF-8" in err["message"] and "invalid start byte at byte 37" in err["message"]
    await c.send(b"\xc3\x28")                                # a binary frame is held to the same rule
    assert "not UTF-8" in (await c.error("bad_json"))["message"]
    await c.send(b'{"type": "ping", "id": "b"}')             # binary frames holding JSON are fine
    await c.expect("pong", re="b")
    assert await c.is_open()
    assert product_tracebacks(caplog) == []


async def test_frames_over_the_limit_are_answered_up_to_the_websocket_bound(edge: EdgeServer) -> None:
    c = await Client.open(edge.ws_url())
    for size in (65537, (1 << 20) + 1, 3 << 20):
        await c.send("x" * size)
        err = await c.error("too_large")
        assert f"{size} bytes" in err["message"] and "65536-byte limit" in err["message"]
    assert await c.is_open()
    await c.send("x" * (WS_MAX_BYTES + 1))                   # beyond the bound: closed, with a documented code
    code, _ = await c.closed()
    assert code == 1009 and code in documented_close_codes()


async def test_socketio_packets_that_cannot_be_read_are_answered(edge: EdgeServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    sio = await RawSocketIO.open(edge.port)
    try:
        cases = [
            ('42["message", {"type": "ping", "id": 1, "x": ' + DEEP + "}]", "invalid", "nested too deeply"),
            ("42" + DEEP, "invalid", "nested too deeply"),
            ('42["message", {"type": "ping"', "invalid", "not JSON"),
            ("42[]", "invalid", "must be a JSON array starting with the event name"),
            ('42{"type": "ping"}', "invalid", "must be a JSON array starting with the event name"),
            ('42["message"]', "invalid", "one protocol message, not 0"),
            ('42["message", "{}", "{}"]', "invalid", "one protocol message, not 2"),
            ('42["chat", {"type": "chat", "text": "hi"}]', "unknown_type", "unknown Socket.IO event 'chat'"),
            ('42["message", "\\ud800"]', "bad_json", "not UTF-8"),
            ('42["message", {"type": "chat", "text": "\\ud800"}]', "bad_json", "cannot be read as JSON"),
            (b"\xff\x00", "invalid", "a binary message that is no Socket.IO packet"),
            ('42["message", "' + "x" * (2 << 20) + '"]', "too_large", "65536-byte limit"),
        ]
        for packet, code, words in cases:
            await sio.send(packet)
            err = await sio.expect("error")
            assert err["code"] == code and words in err["message"], (packet[:60], err)
        await sio.message({"type": "ping", "id": "still"})
        await sio.expect("pong", re="still")
    finally:
        await sio.close()
    assert product_tracebacks(caplog) == []


async def test_malformed_sdp_is_bad_sdp_saying_why(edge: EdgeServer, tokens: TokenKit,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    c = await joined_client(edge, tokens.sign())
    audio = await real_offer(video=False)
    video = await real_offer(audio=False)
    cases = [
        # aiortc parses a c= line that is no address, then cannot write the offer out again
        (audio.replace("c=IN IP4 192.0.2.2", "c=IN IP4 192.0.2.x", 1), {"0": "microphone"},
         "does not appear to be an IPv4 or IPv6 address"),
        # a payload type outside the dynamic range: no codec of the offer can be used
        (audio.replace("SAVPF 96 ", "SAVPF 200 ", 1).replace("a=rtpmap:96 ", "a=rtpmap:200 ", 1),
         {"0": "microphone"}, "no usable audio codec"),
        # packetization-mode without a value
        (video.replace("packetization-mode=1", "packetization-mode"), {"0": "camera"},
         "codec parameters that cannot be read"),
    ]
    for n, (sdp, sources, words) in enumerate(cases):
        await c.send({"type": "offer", "id": n, "pc": "publish", "sdp": sdp, "sources": sources})
        err = await c.expect("error", re=n, timeout=15)
        assert err["code"] == "bad_sdp" and err["field"] == "sdp" and words in err["message"], err
    await c.send({"type": "offer", "id": "good", "pc": "publish", "sdp": audio, "sources": {"0": "microphone"}})
    await c.expect("answer", re="good", timeout=15)            # nothing was left half done
    assert product_tracebacks(caplog) == []


async def test_a_socketio_connect_that_cannot_be_read_is_refused(edge: EdgeServer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    async with connect(f"ws://127.0.0.1:{edge.port}/socket.io/?EIO=4&transport=websocket") as ws:
        assert str(await ws.recv()).startswith("0{")
        await ws.send("40" + DEEP)                       # the auth payload, nested 1,000 deep
        refused = str(await ws.recv())
        assert refused.startswith("44") and "nested too deeply" in json.loads(refused[2:])["data"]["message"]
        await ws.send('40{"meeting_id": "meet-1"}')       # the same connection may still connect
        assert str(await ws.recv()).startswith("40{")
    assert product_tracebacks(caplog) == []


def test_the_id_of_a_frame_too_deep_to_decode_is_still_read() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert request_id_of(b'{"x": ' + deep + b', "note": "[{", "id": "after"}') == "after"
    assert request_id_of(b'{"type": "ping", "id": 3, "t": {"a": ' + deep + b"}}") == 3
    assert request_id_of(b'{"type": "ping", "id": ' + deep + b"}") is None       # the id itself is too deep
    assert request_id_of(b'{"id": 4, "x": ' + b"[" * 5000) is None                # and nothing is guessed
    assert lone_surrogate(b'{"text": "\\ud83d\\ude00 \\udc00"}') == "\\udc00"
    assert lone_surrogate(b'{"text": "\\uD83D\\uDE00"}') == ""
