"""Helpers for edge tests: join tokens signed with a key made here, the real edge app served by
uvicorn on a free port, and a WebSocket client that speaks the signaling protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from edge.app import create_app
from edge.settings import Settings
from nodes.runner import uvicorn_config
from nodes.settings import convert
from tests.support.util import eventually, free_port

MEETING = "meet-1"
EDGE = "edge-t"

FULL = {"publish_audio": True, "publish_video": True, "publish_screen": True, "chat": True, "subscribe": True}
MODERATOR = {**FULL, "moderate": True}
VIEWER = {"subscribe": True}


class TokenKit:
    """An Ed25519 key pair that signs join tokens like the control plane does."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or uuid.uuid4().hex[:12]
        self.key = Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": "cc-test", "aud": "cc-edge", "sub": f"acct-{uuid.uuid4().hex[:6]}", "jti": uuid.uuid4().hex,
                "iat": now, "exp": now + 300, "name": "Alice", "mid": MEETING, "eid": EDGE, "role": "member",
                "perms": FULL, "lobby": False}
        base.update(over)
        return base

    def sign(self, **over: Any) -> str:
        return jwt.encode(self.claims(**over), self.key, algorithm="EdDSA", headers={"kid": self.kid})


def edge_settings(nats_url: str, *, jwks_file: str = "", edge_id: str = EDGE, **sections: Any) -> Settings:
    data: dict[str, Any] = {"edge_id": edge_id, "nats": {"servers": [nats_url], "drain_timeout": 2.0},
                            "auth": {"jwks_file": jwks_file}, "heartbeat": {"interval": 0.5},
                            "http": {"port": free_port()}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return convert(data, Settings)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EdgeServer:
    """``create_app(settings)`` served by uvicorn in this event loop, configured like the runner."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.http.port
        self.app = create_app(settings)
        self.server = _Server(uvicorn_config(self.app, settings.http, host="127.0.0.1", timeout_graceful_shutdown=2))
        self.task: asyncio.Task[None] | None = None

    @property
    def node(self) -> Any:
        return self.app.state.node

    def ws_url(self, meeting: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/ws" + (f"?meeting={meeting}" if meeting else "")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> EdgeServer:
        self.task = asyncio.get_running_loop().create_task(self.server.serve())
        await eventually(lambda: self.server.started or self.task.done(), timeout=10, what="edge listening")
        if self.task.done():
            self.task.result()
            raise RuntimeError("edge did not start")
        return self

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 30)

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class Client:
    """A WebSocket signaling client: one reader task keeps every message; ``expect`` takes them."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self.last_seq = 0
        self.joined: dict[str, Any] = {}
        self.ended = False
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read_all())

    @classmethod
    async def open(cls, url: str, **kw: Any) -> Client:
        return cls(await connect(url, open_timeout=5, max_size=None, **kw))

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(msg if isinstance(msg, (str, bytes)) else json.dumps(msg))

    async def _read_all(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                self.last_seq = max(self.last_seq, msg.get("seq", 0))
                self.seen.append(msg)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.ended = True
            self._changed.set()

    def _take(self, ok: Callable[[dict], bool]) -> dict[str, Any] | None:
        for i, msg in enumerate(self.seen):
            if i not in self._taken and ok(msg):
                self._taken.add(i)
                return msg
        return None

    async def expect(self, type_: str, timeout: float = 5.0, where: Callable[[dict], bool] | None = None,
                     **match: Any) -> dict[str, Any]:
        """The first message not taken yet (in arrival order) of *type_* whose fields equal *match*
        (and for which *where* is true); messages it passes over stay for later calls."""
        def ok(msg: dict) -> bool:
            return msg["type"] == type_ and all(msg.get(k) == v for k, v in match.items()) and \
                (where is None or where(msg))
        return await self._wait(ok, timeout, f"{type_} {match or ''}")

    async def expect_any(self, types: tuple[str, ...], timeout: float = 5.0) -> dict[str, Any]:
        return await self._wait(lambda msg: msg["type"] in types, timeout, " or ".join(types))

    async def _wait(self, ok: Callable[[dict], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self._take(ok)
            if found is not None:
                return found
            if self.ended:
                raise AssertionError(f"socket closed {self.close_frame()} before {what}; "
                                     f"saw {[m['type'] for m in self.seen]}")
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout}s; saw {[m['type'] for m in self.seen]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):   # (3.11's wait_for can swallow a cancellation)
                    await self._changed.wait()

    async def error(self, code: str, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.expect("error", timeout)
        assert msg["code"] == code, msg
        return msg

    async def join(self, token: str, meeting: str = MEETING, **extra: Any) -> dict[str, Any]:
        await self.send({"type": "join", "id": "j", "token": token, "meeting_id": meeting, **extra})
        first = await self.expect_any(("joined", "lobby_waiting", "error"))
        if first["type"] == "joined":
            self.joined = first
        return first

    def close_frame(self) -> tuple[int, str] | None:
        rcvd = self.ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd is not None else None

    async def closed(self, timeout: float = 5.0) -> tuple[int, str]:
        """Wait until the edge has closed the socket; its close code and reason."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        frame = self.close_frame()
        assert frame is not None, "closed without a close frame"
        return frame

    async def is_open(self) -> bool:
        """The socket still answers a ping (at the protocol level)."""
        await self.send({"type": "ping", "id": "alive", "t": 1})
        await self.expect("pong", re="alive")
        return True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()


async def joined_client(server: EdgeServer, token: str, meeting: str = MEETING) -> Client:
    c = await Client.open(server.ws_url())
    first = await c.join(token, meeting)
    assert first["type"] in ("joined", "lobby_waiting"), first
    return c
