"""Client processes of ``bench/cascade.py``: participants speaking the signaling protocol over an
edge's ``/ws``, exactly as a browser would.

``--role publisher``: joins with ``--token`` and publishes 640×480@30 VP8 (pinned at 1 Mb/s) and Opus.
``--role subscribers``: hosts subscribers on commands read from stdin (JSON lines):
``{"cmd": "join", "tokens": [...], "decode": true|false}`` (``"url"`` names another edge than
``--url``), ``{"cmd": "counters"}``, ``{"cmd": "quit"}``.
A decoding subscriber decodes with aiortc and counts frames; a counting one takes each RTP packet
off its receiver and counts packets and complete video frames (marker bits, from the first
keyframe), without decoding (``bench.common.Subscriber``). Nothing here is part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCSessionDescription  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.common import Subscriber, publishing_pc, serve_commands, until_stdin_closes  # noqa: E402

PING_EVERY = 20.0  # seconds (the edge closes a socket idle for 60 s)


class Session:
    """One participant's signaling socket."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.ws: Any = None
        self._tasks: list[asyncio.Task] = []

    async def join(self) -> dict[str, Any]:
        self.ws = await connect(self.url, open_timeout=10, max_size=None)
        await self.ws.send(json.dumps({"type": "join", "id": "j", "token": self.token}))
        joined = json.loads(await self.ws.recv())
        if joined["type"] != "joined":
            raise RuntimeError(f"join refused: {joined}")
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._ping())]
        return joined

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                await self.inbox.put(json.loads(raw))

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_EVERY)
            await self.send({"type": "ping"})

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    async def expect(self, type_: str) -> dict[str, Any]:
        while True:
            msg = await self.inbox.get()
            if msg["type"] == type_:
                return msg

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def publisher(url: str, token: str, clip: str | None = None) -> None:
    session = Session(url, token)
    await session.join()
    conn, mids = await publishing_pc(clip, direct=True)
    await session.send({"type": "offer", "id": "pub", "pc": "publish", "sdp": conn.localDescription.sdp,
                        "sources": mids})
    answer = await session.expect("answer")
    await conn.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    direct = None
    if clip:  # once connected, the clip's packets are written directly (bench/clip.py)
        from bench import clip as replay

        direct = replay.Direct(replay.make(Path(clip)), conn)
        await direct.start()
    print(json.dumps({"published": True}), flush=True)
    await until_stdin_closes()
    if direct is not None:
        direct.stop()
    await conn.close()
    await session.close()


class EdgeSubscriber(Subscriber):
    """A subscriber with its own signaling socket: it answers every offer the edge sends."""

    def __init__(self, url: str, token: str, decode: bool, batch: bool = False) -> None:
        super().__init__(decode, batch=batch)
        self.session = Session(url, token)

    async def start(self) -> None:
        await self.session.join()
        self._tasks.append(asyncio.ensure_future(self._answer_offers()))

    async def _answer_offers(self) -> None:
        while True:
            offer = await self.session.expect("offer")
            sdp = await self.answer(offer["sdp"])
            await self.session.send({"type": "answer", "pc": "subscribe", "sdp": sdp})

    async def close(self) -> None:
        await super().close()
        await self.session.close()


async def subscribers(url: str) -> None:
    subs: list[EdgeSubscriber] = []

    async def join(cmd: dict[str, Any]) -> int:
        urls = cmd.get("urls") or [cmd.get("url") or url] * len(cmd["tokens"])
        new = [EdgeSubscriber(u, token, cmd["decode"], cmd.get("batch", False)) for u, token in zip(urls, cmd["tokens"])]
        await asyncio.gather(*(sub.start() for sub in new))  # joins at once, as people do
        subs.extend(new)
        return len(new)

    await serve_commands(join, lambda: [s.counters() for s in subs])
    for sub in subs:
        await sub.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("publisher", "subscribers"), required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--clip", help="replay this pre-encoded clip (bench/clip.py) instead of encoding live")
    args = parser.parse_args()
    import uvloop

    uvloop.run(publisher(args.url, args.token, args.clip) if args.role == "publisher" else subscribers(args.url))


if __name__ == "__main__":
    main()
