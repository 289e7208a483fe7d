"""Client processes of ``bench/sfu.py``: the publisher, and subscriber workers.

``--role publisher``: one participant publishing 640×480@30 VP8 (pinned at 1 Mb/s) and Opus.
``--role recorder``: the recorder's media core as one subscriber, writing every track into
``--out`` (``bench/transcode.py``).
``--role subscribers``: hosts subscribers on commands read from stdin (one JSON object a line):
``{"cmd": "join", "pids": [...], "decode": true|false}``, ``{"cmd": "counters"}``,
``{"cmd": "quit"}``; answers on stdout. A decoding subscriber decodes with aiortc and counts
frames; a counting one takes each RTP packet off its receiver and counts packets and complete
video frames (marker bits, from the first keyframe), without decoding (``bench.common.Subscriber``).

Both speak the benchmark's own signaling to ``bench/sfu_server.py``: JSON lines over a Unix socket
(:class:`Line`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCSessionDescription  # noqa: E402

from bench.common import Subscriber, publishing_pc, serve_commands, until_stdin_closes  # noqa: E402


class Line:
    """One JSON-lines connection: requests with ids, answers and pushed messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._next = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self.pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, path: str) -> Line:
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        return cls(reader, writer)

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")

    async def request(self, message: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self._next += 1
        future = self._waiting[self._next] = asyncio.get_running_loop().create_future()
        self.send({**message, "id": self._next})
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"{message['op']}: {reply['error']}")
        return reply

    async def _read(self) -> None:
        while line := await self.reader.readline():
            message = json.loads(line)
            future = self._waiting.pop(message.get("re", -1), None)
            if future is not None:
                future.set_result(message)
            else:
                await self.pushed.put(message)
        await self.pushed.put({"op": "closed"})

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()


async def publisher(path: str, pid: str = "publisher", clip: str | None = None) -> None:
    line = await Line.connect(path)
    await line.request({"op": "join", "pid": pid, "publish": True})
    conn, mids = await publishing_pc(clip)
    reply = await line.request({"op": "publish", "pid": pid, "sdp": conn.localDescription.sdp,
                                "sources": mids})
    await conn.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    print(json.dumps({"published": True}), flush=True)
    await until_stdin_closes()
    await conn.close()


async def subscribers(path: str) -> None:
    line = await Line.connect(path)
    subs: dict[str, Subscriber] = {}

    async def answer(pid: str, sdp: str) -> None:
        await line.request({"op": "answer", "pid": pid, "sdp": await subs[pid].answer(sdp)})

    async def offers() -> None:
        while True:
            message = await line.pushed.get()
            if message.get("op") == "offer" and message["pid"] in subs:
                asyncio.ensure_future(answer(message["pid"], message["sdp"]))

    async def join(cmd: dict[str, Any]) -> list[str]:
        for pid in cmd["pids"]:
            subs[pid] = Subscriber(cmd["decode"], batch=True)
            await line.request({"op": "join", "pid": pid, "publish": False})
        return cmd["pids"]

    pump = asyncio.ensure_future(offers())
    await serve_commands(join, lambda: {pid: s.counters() for pid, s in subs.items()})
    pump.cancel()
    for sub in subs.values():
        await sub.close()
    line.close()


async def recorder(path: str, out: str) -> None:
    """The recorder's media core (``recorder.session`` tapping, ``recorder.recording`` files) as
    one subscriber: every track written to *out*, nothing decoded."""
    from recorder.recording import Recording
    from recorder.session import Session

    line = await Line.connect(path)
    recording = Recording(Path(out), "bench", "bench")
    visit = recording.visit()
    session = Session("", "", "bench", visit.sink)

    async def answer(sdp: str) -> None:
        await line.request({"op": "answer", "pid": "recorder", "sdp": await session.answer_offer(sdp)})

    async def offers() -> None:
        while True:
            message = await line.pushed.get()
            if message.get("op") == "offer":
                await answer(message["sdp"])

    pump = asyncio.ensure_future(offers())
    await line.request({"op": "join", "pid": "recorder", "publish": False})

    async def join(cmd: dict[str, Any]) -> list[str]:
        return []

    await serve_commands(join, lambda: {"recorder": {"video_frames": sum(t.file.frames for t in visit.tracks
                                                                          if t.info.kind == "video"),
                                                     "tracks": len(visit.tracks)}})
    pump.cancel()
    await session._close_media()   # the peer connection first: no packet reaches a closed file
    recording.finish(visit)
    line.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("publisher", "subscribers", "recorder"), required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--pid", default="publisher", help="the publisher's participant id")
    parser.add_argument("--out", help="the recorder's folder")
    parser.add_argument("--clip", help="replay this pre-encoded clip (bench/clip.py) instead of encoding live")
    args = parser.parse_args()
    import uvloop

    if args.role == "publisher":
        uvloop.run(publisher(args.socket, args.pid, args.clip))
    elif args.role == "recorder":
        uvloop.run(recorder(args.socket, args.out))
    else:
        uvloop.run(subscribers(args.socket))


if __name__ == "__main__":
    main()
