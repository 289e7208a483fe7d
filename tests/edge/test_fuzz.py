"""A seeded fuzz of the signaling edge: over 10,000 frames on ``/ws`` and Socket.IO, before and
after ``join`` — deep nesting, wrong types for every field of every client message, unknown types,
text that is not UTF-8, frames over the limit, binary frames, random SDP in offers and answers,
random ICE candidates, Socket.IO packets that are not events.

Every frame must be answered: a request that carried an ``id`` gets a reply with that ``re``, any
other frame exactly one ``error`` (without ``re``); the sockets stay open; the sockets opened to be
closed (a bad token, a frame over the WebSocket bound) close with codes that ``docs/protocol.md``
documents; every error code is documented; and the edge logs no traceback and no ERROR.

The seed is fixed (``FUZZ_SEED`` in the environment picks another) and named in every failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nodes.websocket import WS_MAX_BYTES
from tests.edge.edge_support import FULL, Client, EdgeServer, TokenKit
from tests.edge.fuzz_frames import Frame, Frames
from tests.edge.input_support import (
    PROTOCOL_DOC,
    RawSocketIO,
    documented_close_codes,
    product_tracebacks,
    real_answer,
    real_offer,
)
from tests.support.util import eventually

SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
MEETING = "fuzz"
CHUNK = 100          # frames in flight per socket before waiting for their answers


def documented_error_codes() -> set[str]:
    section = PROTOCOL_DOC.read_text().split("### Error codes", 1)[1].split("###", 1)[0]
    codes = set()
    for row in re.findall(r"^\|([^|]*)\|", section, re.MULTILINE):
        codes.update(re.findall(r"`([a-z_]+)`", row))
    return codes


class Tally:
    """What one socket was sent and what came back."""

    def __init__(self, name: str, messages: list[dict[str, Any]]) -> None:
        self.name, self.messages = name, messages
        self.sent: list[Frame] = []

    def answered(self) -> tuple[set[Any], int]:
        ids = {m["re"] for m in self.messages if m.get("re") is not None}
        bare = sum(1 for m in self.messages if m["type"] == "error" and m.get("re") is None)
        return ids, bare

    def missing(self) -> tuple[list[Frame], int, int]:
        ids, bare = self.answered()
        expected_bare = sum(1 for f in self.sent if f.re is None)
        return [f for f in self.sent if f.re is not None and f.re not in ids], bare, expected_bare

    def complete(self) -> bool:
        unanswered, bare, expected = self.missing()
        return not unanswered and bare >= expected

    def report(self) -> str:
        unanswered, bare, expected = self.missing()
        lines = [(f"seed {SEED}, socket {self.name}: {len(self.sent)} frames sent, {len(unanswered)} requests "
                  f"with an id unanswered, {bare} errors without re for {expected} frames without an id")]
        lines += ["  unanswered: " + f.describe() for f in unanswered[:5]]
        if bare < expected:    # errors without re come in order: name the frames the last ones answer
            errors = [m for m in self.messages if m["type"] == "error" and m.get("re") is None]
            frames = [f for f in self.sent if f.re is None]
            lines += [f"  {f.describe()} -> {(e['code'], e['message'][:80]) if e else None}"
                      for f, e in list(zip(frames, errors + [None] * len(frames)))[-40:]]
        lines += [f"  last messages: {[(m['type'], m.get('code'), m.get('re')) for m in self.messages[-8:]]}"]
        return "\n".join(lines)


async def drive(tally: Tally, frames: list[Frame], send: Callable[[Frame], Awaitable[None]],
                is_open: Callable[[], bool]) -> None:
    for start in range(0, len(frames), CHUNK):
        for frame in frames[start:start + CHUNK]:
            tally.sent.append(frame)
            await send(frame)
        try:
            await eventually(lambda: tally.complete() or not is_open(), timeout=30, interval=0.02,
                             what="answers")
        except AssertionError:
            raise AssertionError(tally.report()) from None
        assert is_open(), f"the socket closed\n{tally.report()}"


async def ws_client(edge: EdgeServer, token: str | None) -> Client:
    c = await Client.open(edge.ws_url())
    if token is not None:
        assert (await c.join(token, MEETING))["type"] == "joined"
    return c


async def ws_stream(c: Client, name: str, frames: list[Frame]) -> Tally:
    tally = Tally(name, c.seen)

    async def send(frame: Frame) -> None:
        if isinstance(frame.data, bytes):
            await c.ws.send(frame.data, text=frame.text)
        else:
            await c.ws.send(frame.data)

    await drive(tally, frames, send, lambda: not c.ended)
    await c.close()
    return tally


SIO_PACKETS = ['42[]', '42{"a": 1}', '425', '42"message"', '42["message"]', '42["message", "{}", 2]',
               '42["join", {"type": "join"}]', '42[5, "x"]', '42["message", {"type": "ping"', '42',
               '42["message", ' + "[" * 3000 + "]" * 3000 + "]", "42" + "[" * 3000 + "]" * 3000,
               '42["message", "\\ud800"]', '42["message", {"type": "ping", "id": 1, "t": "\\udc00"}]']


OBJECT_KINDS = ("valid", "wrong type", "unknown fields", "unknown type")


async def sio_stream(edge: EdgeServer, name: str, frames: list[Frame], token: str | None,
                     rng: random.Random) -> Tally:
    sio = await RawSocketIO.open(edge.port, {"token": token, "meeting_id": MEETING} if token else None)
    if token is not None:
        await sio.message({"type": "join", "id": "sio-join"})
        await sio.expect("joined", re="sio-join")
    tally = Tally(name, sio.messages)

    async def send(frame: Frame) -> None:
        if frame.kind == "socket.io":
            await sio.send(frame.data)
        elif isinstance(frame.data, bytes):
            # An Engine.IO binary message that is no Socket.IO packet (0xff is no packet type).
            await sio.send(b"\xff" + frame.data)
        elif frame.re is not None and frame.kind.startswith(OBJECT_KINDS) and rng.random() < 0.3:
            await sio.message(json.loads(frame.data))      # the object form
        else:
            await sio.message(frame.data)

    mixed: list[Frame] = []
    for frame in frames:
        if isinstance(frame.data, bytes):
            frame = Frame(frame.data, re=None, text=False, kind=frame.kind + " (binary on Engine.IO)")
        mixed.append(frame)
        if rng.random() < 0.05:
            mixed.append(Frame(rng.choice(SIO_PACKETS), kind="socket.io"))
    await drive(tally, mixed, send, lambda: not sio.ended)
    await sio.close()
    return tally


async def closing_sockets(edge: EdgeServer, tokens: TokenKit) -> list[int]:
    """Sockets whose input closes them: bad tokens (4001), a frame over the WebSocket bound (1009)."""
    codes = []
    for token in ("not-a-token", TokenKit().sign(mid=MEETING), tokens.sign(mid="elsewhere")):
        c = await Client.open(edge.ws_url())
        await c.send({"type": "join", "id": "bad", "token": token, "meeting_id": MEETING})
        assert (await c.expect("error", re="bad"))["message"]
        codes.append((await c.closed())[0])
    c = await Client.open(edge.ws_url())
    await c.send("x" * (WS_MAX_BYTES + 1))
    codes.append((await c.closed())[0])
    return codes


async def test_every_malformed_frame_is_answered(make_edge, tokens: TokenKit,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    offer, answer = await real_offer(), await real_answer()
    async with make_edge(signaling={"join_timeout": 300, "idle_timeout": 0}) as edge:
        def frames(prefix: str, n: int, joined: bool, others: list[str]) -> list[Frame]:
            gen = Frames(random.Random(rng.random()), prefix=prefix, offer=offer, answer=answer, others=others,
                         joined=joined)
            return [gen.next() for _ in range(n)]

        fresh = await ws_client(edge, None)
        a = await ws_client(edge, tokens.sign(name="A", mid=MEETING, perms=FULL))
        b = await ws_client(edge, tokens.sign(name="B", mid=MEETING, perms=FULL))
        others = [a.joined["participant_id"], b.joined["participant_id"], "p-unknown"]
        tallies = await asyncio.gather(
            ws_stream(fresh, "ws before join", frames("w", 2400, False, others)),
            ws_stream(a, "ws A", frames("a", 3300, True, others)),
            ws_stream(b, "ws B", frames("b", 3000, True, others)),
            sio_stream(edge, "socket.io before join", frames("s", 600, False, others), None, random.Random(SEED)),
            sio_stream(edge, "socket.io joined", frames("t", 900, True, others), tokens.sign(name="S", mid=MEETING),
                       random.Random(SEED + 1)))
        closes = await closing_sockets(edge, tokens)

    for tally in tallies:      # exactly one bare error per frame without an id: none answered twice
        unanswered, bare, expected = tally.missing()
        assert not unanswered and bare == expected, tally.report()
    sent = sum(len(t.sent) for t in tallies)
    if os.environ.get("FUZZ_STATS"):
        print(Counter(f.kind.split(" (")[0] for t in tallies for f in t.sent))
        print(Counter(m["code"] for t in tallies for m in t.messages if m["type"] == "error"))
        print(Counter(m["type"] for t in tallies for m in t.messages))
    assert sent >= 10000, f"seed {SEED}: only {sent} frames"
    documented = documented_close_codes()
    assert closes == [4001, 4001, 4001, 1009] and set(closes) <= documented, f"seed {SEED}: closes {closes}"
    codes = Counter(m["code"] for t in tallies for m in t.messages if m["type"] == "error")
    undocumented = set(codes) - documented_error_codes()
    assert not undocumented, f"seed {SEED}: undocumented error codes {undocumented}"
    assert "internal" not in codes, f"seed {SEED}: {codes['internal']} requests failed inside the edge"
    assert all(m["message"] for t in tallies for m in t.messages if m["type"] == "error")
    assert product_tracebacks(caplog) == [], f"seed {SEED}"
