"""The server side of ``bench/sfu.py``, in its own process so its CPU can be measured alone.

``--mode forward``: the edge's forwarding core (:class:`edge.sfu.room.Room`).
``--mode relay``: the baseline most aiortc servers use — ``MediaRelay``, which decodes the
publisher's stream once and re-encodes it for every subscriber.

Both speak the same JSON-lines signaling on a Unix socket: ``join``, ``publish``, ``answer``,
``leave``, ``stats``; offers are pushed as ``{"op": "offer", "pid", "sdp"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402

from bench.common import pc, pin_vp8_bitrate, until_stdin_closes  # noqa: E402
from edge.sfu.interfaces import Grants, SfuConfig  # noqa: E402
from edge.sfu.room import Room  # noqa: E402

ALL = Grants(publish=frozenset({"microphone", "camera"}))


class Connections:
    """Which signaling connection each participant uses."""

    def __init__(self) -> None:
        self.of: dict[str, asyncio.StreamWriter] = {}

    def push(self, pid: str, message: dict[str, Any]) -> None:
        writer = self.of.get(pid)
        if writer is not None and not writer.is_closing():
            writer.write(json.dumps(message).encode() + b"\n")


class ForwardServer:
    def __init__(self, connections: Connections, adaptation: bool = True) -> None:
        self.connections = connections
        self.room = Room("bench", self, SfuConfig(adaptation=adaptation))

    # RoomEvents
    def on_subscriber_offer(self, pid: str, sdp: str) -> None:
        self.connections.push(pid, {"op": "offer", "pid": pid, "sdp": sdp})

    def on_track_published(self, track) -> None: ...
    def on_track_unpublished(self, track) -> None: ...
    def on_active_speaker(self, pid) -> None: ...
    def on_peer_state(self, pid, pc, state) -> None: ...

    async def join(self, pid: str, publish: bool) -> None:
        await self.room.add_peer(pid, ALL if publish else Grants())

    async def publish(self, pid: str, sdp: str, sources: dict[str, str]) -> str:
        return await self.room.publisher_offer(pid, sdp, sources)

    async def answer(self, pid: str, sdp: str) -> None:
        await self.room.subscriber_answer(pid, sdp)

    async def leave(self, pid: str) -> None:
        await self.room.remove_peer(pid)

    def stats(self) -> dict[str, Any]:
        s = self.room.stats()
        return {"peers": s.peers, "forwarded_streams": s.forwarded_streams, "packets_forwarded": s.packets_forwarded,
                "packets_dropped": s.packets_dropped, "packets_received": s.extra.get("packets_received", 0),
                "bytes_received": s.extra.get("bytes_received", 0),
                "keyframe_requests": s.keyframe_requests}


class RelayServer:
    """aiortc's MediaRelay: one decoder per published track, one encoder per subscriber."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections
        self.relay = MediaRelay()
        self.tracks: list = []
        self.pcs: dict[str, RTCPeerConnection] = {}

    async def join(self, pid: str, publish: bool) -> None:
        conn = self.pcs[pid] = pc()
        if publish:
            conn.on("track", self.tracks.append)
            return
        for track in self.tracks:
            conn.addTrack(self.relay.subscribe(track))
        await conn.setLocalDescription(await conn.createOffer())
        self.connections.push(pid, {"op": "offer", "pid": pid, "sdp": conn.localDescription.sdp})

    async def publish(self, pid: str, sdp: str, sources: dict[str, str]) -> str:
        conn = self.pcs[pid]
        await conn.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await conn.setLocalDescription(await conn.createAnswer())
        return conn.localDescription.sdp

    async def answer(self, pid: str, sdp: str) -> None:
        await self.pcs[pid].setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def leave(self, pid: str) -> None:
        await self.pcs.pop(pid).close()

    def stats(self) -> dict[str, Any]:
        return {"peers": len(self.pcs)}


async def serve(mode: str, path: str, profile: str | None) -> None:
    pin_vp8_bitrate()  # the relay's encoders: same bitrate as the publisher's
    connections = Connections()
    server = (ForwardServer(connections) if mode == "forward" else
              ForwardServer(connections, adaptation=False) if mode == "forward-fixed" else RelayServer(connections))

    async def handle(message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        reply: dict[str, Any] = {"re": message.get("id")}
        try:
            op, pid = message["op"], message.get("pid", "")
            if op == "join":
                connections.of[pid] = writer
                await server.join(pid, message.get("publish", False))
            elif op == "publish":
                reply["sdp"] = await server.publish(pid, message["sdp"], message["sources"])
            elif op == "answer":
                await server.answer(pid, message["sdp"])
            elif op == "leave":
                await server.leave(pid)
            elif op == "stats":
                reply.update(server.stats())
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # noqa: BLE001
            reply["error"] = f"{type(exc).__name__}: {exc}"
        writer.write(json.dumps(reply).encode() + b"\n")

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                asyncio.ensure_future(handle(json.loads(line), writer))
        except (asyncio.CancelledError, ConnectionError):
            pass

    server_socket = await asyncio.start_unix_server(client, path, limit=1 << 22)
    print(json.dumps({"ready": os.getpid()}), flush=True)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time, not wall-clock
        profiler.enable()
    async with server_socket:
        await until_stdin_closes()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("forward", "forward-fixed", "relay"), required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--profile", help="write cProfile statistics here on exit")
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.mode, args.socket, args.profile))


if __name__ == "__main__":
    main()
