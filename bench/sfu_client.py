"""Client processes of ``bench/sfu.py``: the publisher, and subscriber workers.

``--role publisher``: one participant publishing 640×480@30 VP8 (pinned at 1 Mb/s) and Opus.
``--role subscribers``: hosts subscribers on commands read from stdin (one JSON object a line):
``{"cmd": "join", "pids": [...], "decode": true|false}``, ``{"cmd": "counters"}``,
``{"cmd": "quit"}``; answers on stdout. A decoding subscriber decodes with aiortc and counts
frames; a counting one takes each RTP packet off its receiver and counts packets and complete
video frames (marker bits, from the first keyframe), without decoding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402

from bench.sfu_wire import Line, NoiseTrack, ToneTrack, now, pin_vp8_bitrate  # noqa: E402
from edge.sfu.keyframes import vp8_keyframe_start  # noqa: E402


def pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def publisher(path: str) -> None:
    pin_vp8_bitrate()
    line = await Line.connect(path)
    await line.request({"op": "join", "pid": "publisher", "publish": True})
    conn = pc()
    conn.addTransceiver(ToneTrack(), direction="sendonly")
    conn.addTransceiver(NoiseTrack(), direction="sendonly")
    await conn.setLocalDescription(await conn.createOffer())
    mids = {t.mid: source for t, source in zip(conn.getTransceivers(), ("microphone", "camera"))}
    reply = await line.request({"op": "publish", "pid": "publisher", "sdp": conn.localDescription.sdp,
                                "sources": mids})
    await conn.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    print(json.dumps({"published": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await conn.close()


class Subscriber:
    def __init__(self, pid: str, decode: bool, line: Line) -> None:
        self.pid, self.decode, self.line = pid, decode, line
        self.pc = pc()
        self.joined = now()
        self.first: float | None = None
        self.video_frames = self.audio_frames = self.packets = 0
        self._key = False
        self._tasks: list[asyncio.Task] = []

    async def on_offer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for t in self.pc.getTransceivers():
            if t.receiver.track is not None and not getattr(t, "_bench_watched", False):
                t._bench_watched = True
                if self.decode:
                    self._tasks.append(asyncio.ensure_future(self._read(t.receiver.track)))
                else:
                    self._count(t.receiver, t.kind)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.line.request({"op": "answer", "pid": self.pid, "sdp": self.pc.localDescription.sdp})

    async def _read(self, track) -> None:
        try:
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.first = self.first or now()
                else:
                    self.audio_frames += 1
        except MediaStreamError:
            pass

    def _count(self, receiver, kind: str) -> None:
        async def handle(packet, arrival_time_ms) -> None:
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


async def subscribers(path: str) -> None:
    line = await Line.connect(path)
    subs: dict[str, Subscriber] = {}

    async def offers() -> None:
        while True:
            message = await line.pushed.get()
            if message.get("op") == "offer" and message["pid"] in subs:
                asyncio.ensure_future(subs[message["pid"]].on_offer(message["sdp"]))

    pump = asyncio.ensure_future(offers())
    loop = asyncio.get_running_loop()
    while command := await loop.run_in_executor(None, sys.stdin.readline):
        cmd = json.loads(command)
        if cmd["cmd"] == "join":
            for pid in cmd["pids"]:
                subs[pid] = Subscriber(pid, cmd["decode"], line)
                await line.request({"op": "join", "pid": pid, "publish": False})
            print(json.dumps({"joined": cmd["pids"]}), flush=True)
        elif cmd["cmd"] == "counters":
            print(json.dumps({"t": now(), "subs": {pid: s.counters() for pid, s in subs.items()}}), flush=True)
        elif cmd["cmd"] == "quit":
            break
    pump.cancel()
    for sub in subs.values():
        await sub.close()
    line.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("publisher", "subscribers"), required=True)
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()
    import uvloop

    uvloop.run(publisher(args.socket) if args.role == "publisher" else subscribers(args.socket))


if __name__ == "__main__":
    main()
