"""For tests that feed an edge malformed input: a raw Socket.IO client (Engine.IO 4 over a
WebSocket, so it can send packets no real client would), the close codes ``docs/protocol.md``
documents, real SDP from aiortc, and a check that the product logged no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_close_codes() -> set[int]:
    """The close codes in the table under ``### Close codes`` of docs/protocol.md."""
    text = PROTOCOL_DOC.read_text()
    section = text.split("### Close codes", 1)[1].split("\n#", 1)[0]
    codes = {int(code) for code in re.findall(r"^\|\s*(\d{4})\s*\|", section, re.MULTILINE)}
    assert codes, "no close codes found in docs/protocol.md"
    return codes


def product_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records at ERROR or above, or with a traceback, from anything but the test itself."""
    return [f"{r.name} {r.levelname}: {r.getMessage()[:300]}" for r in caplog.records
            if (r.levelno >= logging.ERROR or r.exc_info) and not r.name.startswith("tests")]


async def real_offer(audio: bool = True, video: bool = True) -> str:
    """A publish offer as aiortc (standing in for a browser) makes it: one sendonly m-section per kind."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        if audio:
            pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        if video:
            pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


async def real_answer() -> str:
    """An answer (audio and video, receive only) as a subscriber would send it."""
    offerer, answerer = RTCPeerConnection(RTCConfiguration(iceServers=[])), RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offerer.addTransceiver("audio", direction="sendonly")
        offerer.addTransceiver("video", direction="sendonly")
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(RTCSessionDescription(sdp=offerer.localDescription.sdp, type="offer"))
        await answerer.setLocalDescription(await answerer.createAnswer())
        return answerer.localDescription.sdp
    finally:
        await offerer.close()
        await answerer.close()


class RawSocketIO:
    """Socket.IO spoken by hand: ``40`` connects the namespace, ``42[...]`` is an event; the edge's
    ``message`` events are parsed into ``messages``. Engine.IO pings are answered."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.packets: list[str] = []
        self.ended = False
        self._taken: set[int] = set()
        self.changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, port: int, auth: dict | None = None) -> RawSocketIO:
        ws = await connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", max_size=None,
                           open_timeout=5)
        opened = await ws.recv()
        assert str(opened).startswith("0{"), opened
        await ws.send("40" + (json.dumps(auth) if auth else ""))
        connected = str(await ws.recv())
        assert connected.startswith("40{"), connected
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                if text == "2":
                    await self.ws.send("3")
                    continue
                self.packets.append(text)
                if text.startswith("42"):
                    event = json.loads(text[2:])
                    if event[0] == "message":
                        self.messages.append(json.loads(event[1]) if isinstance(event[1], str) else event[1])
                self.changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.ended = True
            self.changed.set()

    async def send(self, packet: str | bytes) -> None:
        await self.ws.send(packet)

    async def message(self, data: Any) -> None:
        """One protocol message in a ``message`` event (as JSON text when *data* is a string)."""
        await self.ws.send("42" + json.dumps(["message", data]))

    async def wait(self, check: Callable[[], bool], timeout: float = 10.0, what: str = "messages") -> None:
        async with asyncio.timeout(timeout):
            while not check():
                if self.ended:
                    raise AssertionError(f"socket closed before {what}; saw {self.messages[-5:]}")
                self.changed.clear()
                await self.changed.wait()

    def _take(self, type_: str, match: dict[str, Any]) -> dict[str, Any] | None:
        for i, m in enumerate(self.messages):
            if i not in self._taken and m["type"] == type_ and all(m.get(k) == v for k, v in match.items()):
                self._taken.add(i)
                return m
        return None

    async def expect(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first message not taken yet of *type_* whose fields equal *match*."""
        async with asyncio.timeout(timeout):
            while (found := self._take(type_, match)) is None:
                if self.ended:
                    raise AssertionError(f"socket closed before {type_} {match}; saw {self.messages[-5:]}")
                self.changed.clear()
                await self.changed.wait()
        return found

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
