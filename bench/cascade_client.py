"""Client processes of ``bench/cascade.py``: participants speaking the signaling protocol over an
edge's ``/ws``, exactly as a browser would.

``--role publisher``: joins with ``--token`` and publishes 640×480@30 VP8 (pinned at 1 Mb/s) and Opus.
``--role subscribers``: hosts subscribers on commands read from stdin (JSON lines):
``{"cmd": "join", "tokens": [...], "decode": true|false}``, ``{"cmd": "counters"}``, ``{"cmd": "quit"}``.
A decoding subscriber decodes with aiortc and counts frames; a counting one takes each RTP packet
off its receiver and counts packets and complete video frames (marker bits, from the first
keyframe). Nothing here is part of the product.
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

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.sfu_wire import NoiseTrack, ToneTrack, now, pin_vp8_bitrate  # noqa: E402
from edge.sfu.keyframes import vp8_keyframe_start  # noqa: E402

PING_EVERY = 20.0  # seconds (the edge closes a socket idle for 60 s)


def pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


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


async def publisher(url: str, token: str) -> None:
    pin_vp8_bitrate()
    session = Session(url, token)
    await session.join()
    conn = pc()
    conn.addTransceiver(ToneTrack(), direction="sendonly")
    conn.addTransceiver(NoiseTrack(), direction="sendonly")
    await conn.setLocalDescription(await conn.createOffer())
    mids = {t.mid: source for t, source in zip(conn.getTransceivers(), ("microphone", "camera"))}
    await session.send({"type": "offer", "id": "pub", "pc": "publish", "sdp": conn.localDescription.sdp,
                        "sources": mids})
    answer = await session.expect("answer")
    await conn.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    print(json.dumps({"published": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await conn.close()
    await session.close()


class Subscriber:
    def __init__(self, url: str, token: str, decode: bool) -> None:
        self.session = Session(url, token)
        self.decode = decode
        self.pc = pc()
        self.joined = now()
        self.first: float | None = None
        self.video_frames = self.audio_frames = self.packets = 0
        self._key = False
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        await self.session.join()
        self._tasks.append(asyncio.ensure_future(self._answer_offers()))

    async def _answer_offers(self) -> None:
        while True:
            offer = await self.session.expect("offer")
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            for t in self.pc.getTransceivers():
                if t.receiver.track is not None and not getattr(t, "_bench_watched", False):
                    t._bench_watched = True
                    if self.decode:
                        self._tasks.append(asyncio.ensure_future(self._read(t.receiver.track)))
                    else:
                        self._count(t.receiver, t.kind)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.session.send({"type": "answer", "pc": "subscribe", "sdp": self.pc.localDescription.sdp})

    async def _read(self, track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.first = self.first or now()
                else:
                    self.audio_frames += 1

    def _count(self, receiver, kind: str) -> None:  # noqa: ANN001
        async def handle(packet, arrival_time_ms) -> None:  # noqa: ANN001
            self.packets += 1
            if kind != "video":
                self.audio_frames += 1
                return
            if not self._key and vp8_keyframe_start(packet.payload):
                self._key = True
            if self._key and packet.marker:
                self.video_frames += 1
                self.first = self.first or now()

        receiver._handle_rtp_packet = handle  # count packets instead of decoding them

    def counters(self) -> dict[str, Any]:
        return {"video_frames": self.video_frames, "audio_frames": self.audio_frames, "packets": self.packets,
                "first_frame_ms": None if self.first is None else round((self.first - self.joined) * 1000, 1),
                "decode": self.decode}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        await self.session.close()


async def subscribers(url: str) -> None:
    subs: list[Subscriber] = []
    loop = asyncio.get_running_loop()
    while command := await loop.run_in_executor(None, sys.stdin.readline):
        cmd = json.loads(command)
        if cmd["cmd"] == "join":
            for token in cmd["tokens"]:
                sub = Subscriber(url, token, cmd["decode"])
                await sub.start()
                subs.append(sub)
            print(json.dumps({"joined": len(cmd["tokens"])}), flush=True)
        elif cmd["cmd"] == "counters":
            print(json.dumps({"t": now(), "subs": [s.counters() for s in subs]}), flush=True)
        elif cmd["cmd"] == "quit":
            break
    for sub in subs:
        await sub.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("publisher", "subscribers"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    import uvloop

    uvloop.run(publisher(args.url, args.token) if args.role == "publisher" else subscribers(args.url))


if __name__ == "__main__":
    main()
