"""The Socket.IO endpoint, driven by the official npm ``socket.io-client`` (tests/js/sio_client.mjs):
the same protocol as the WebSocket, the same sessions and meetings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.edge.edge_support import MEETING, EdgeServer, TokenKit, joined_client
from tests.support.util import require

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(autouse=True)
def _node_and_client() -> None:
    require(shutil.which("node") is not None and (JS / "node_modules" / "socket.io-client").is_dir(),
            "node and the npm socket.io-client (npm install in tests/js)")


class SioClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._taken: set[int] = set()

    @classmethod
    async def start(cls, url: str, auth: dict | None = None, **options: Any) -> SioClient:
        auth_arg = json.dumps(auth) if auth is not None else ""
        proc = await asyncio.create_subprocess_exec(
            shutil.which("node"), str(JS / "sio_client.mjs"), url, auth_arg, json.dumps(options), cwd=JS,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(proc)

    async def emit(self, message: dict | str) -> None:
        self.proc.stdin.write((json.dumps({"emit": message}) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, event: str, where: Callable[[dict], bool] | None = None,
                     timeout: float = 10.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if i not in self._taken and e["event"] == event and (where is None or where(e)):
                    self._taken.add(i)
                    return e
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {event} within {timeout}s; saw {self.events}")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                err = (await self.proc.stderr.read()).decode()
                raise AssertionError(f"client exited; saw {self.events}; stderr: {err[-2000:]}")
            self.events.append(json.loads(line))

    async def message(self, type_: str, **match: Any) -> dict[str, Any]:
        e = await self.expect("message", lambda e: e["data"]["type"] == type_ and
                              all(e["data"].get(k) == v for k, v in match.items()))
        return e["data"]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def sio_client(edge: EdgeServer, auth: dict | None = None, **options: Any):  # noqa: ANN201
    client = await SioClient.start(edge.http_url, auth, **options)
    try:
        yield client
    finally:
        await client.stop()


async def test_connect_join_chat_and_receive(edge: EdgeServer, tokens: TokenKit) -> None:
    ws = await joined_client(edge, tokens.sign(name="Web"))
    async with sio_client(edge, {"token": tokens.sign(name="Sio"), "meeting_id": MEETING}) as sio:
        assert (await sio.expect("connect"))["transport"] == "websocket"
        await sio.emit({"type": "join", "id": "j"})                       # the token came with auth
        joined = await sio.message("joined")
        assert joined["re"] == "j" and [p["name"] for p in joined["roster"]] == ["Web", "Sio"]
        assert (await ws.expect("participant_joined"))["participant"]["name"] == "Sio"
        await sio.emit({"type": "chat", "id": 7, "text": "from socket.io"})
        assert (await sio.message("chat", text="from socket.io"))["re"] == 7
        got = await ws.expect("chat", text="from socket.io")
        assert got["sender"] == joined["participant_id"] and got["sender_name"] == "Sio"
        await ws.send({"type": "chat", "text": "from a websocket"})
        heard = await sio.message("chat", text="from a websocket")
        assert heard["sender_name"] == "Web" and heard["seq"] > joined["seq"]
        await sio.emit(json.dumps({"type": "ping", "id": "p", "t": 2}))     # JSON text works as well
        assert (await sio.message("pong", re="p"))["t"] == 2
        await sio.emit("{broken")
        await sio.message("error", code="bad_json")
        await sio.emit({"type": "leave"})
        assert (await sio.expect("close"))["data"] == {"code": 1000, "reason": "left"}
        await sio.expect("disconnect")
    assert (await ws.expect("participant_left"))["reason"] == "left"


async def test_a_bad_token_in_auth_is_a_connect_error(edge: EdgeServer, tokens: TokenKit) -> None:
    forged = TokenKit(kid=tokens.kid).sign()
    async with sio_client(edge, {"token": forged, "meeting_id": MEETING}) as sio:
        err = await sio.expect("connect_error")
        assert err["data"]["code"] == "bad_signature" and "does not verify" in err["data"]["message"]
    async with sio_client(edge, {"token": tokens.sign(mid="elsewhere"), "meeting_id": MEETING}) as sio:
        assert (await sio.expect("connect_error"))["data"]["code"] == "wrong_meeting"
    assert edge.node.conference.meetings == {}


async def test_the_token_in_the_join_message(edge: EdgeServer, tokens: TokenKit) -> None:
    async with sio_client(edge) as sio:
        await sio.expect("connect")
        await sio.emit({"type": "chat", "text": "too early"})
        await sio.message("error", code="not_joined")
        await sio.emit({"type": "join", "token": tokens.sign(name="Late"), "meeting_id": MEETING})
        assert (await sio.message("joined"))["name"] == "Late"
    async with sio_client(edge) as sio:
        await sio.expect("connect")
        await sio.emit({"type": "join", "id": 1, "token": tokens.sign(exp=1), "meeting_id": MEETING})
        err = await sio.message("error", code="expired")
        assert err["re"] == 1
        close = await sio.expect("close")
        assert close["data"]["code"] == 4001 and close["data"]["reason"].startswith("expired")
        await sio.expect("disconnect")


async def test_origin_is_checked(make_edge, tokens: TokenKit) -> None:
    async with make_edge(signaling={"allowed_origins": ["https://meet.example.org"]}) as edge:
        async with sio_client(edge, {"token": tokens.sign(), "meeting_id": MEETING},
                              extraHeaders={"origin": "https://evil.example.com"}) as sio:
            err = await sio.expect("connect_error")     # Engine.IO refuses the handshake (HTTP 400)
            assert err["message"] == "websocket error"
        async with sio_client(edge, {"token": tokens.sign(), "meeting_id": MEETING},
                              extraHeaders={"origin": "https://meet.example.org"}) as sio:
            await sio.expect("connect")
