"""A client written from ``docs/protocol.md`` alone works against the real processes: a NATS hub and
an "eu" leaf, the control plane and two edges of region eu. It reads the OpenAPI document where the
guide says it is served, asks ``POST /api/v1/meetings/{id}/join`` for a token (body and answer as
documented, ``alternates`` included), joins the edge it names over a plain WebSocket, publishes from
one aiortc peer connection and decodes the other participant's media from another — nothing from
the project's own client code."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from websockets.asyncio.client import connect

from tests.support import procs
from tests.support.regional import admin_headers, create_meeting, listed_edges, regional_stack
from tests.support.topology import Topology
from tests.support.util import eventually

JOIN_PATH = "/api/v1/meetings/{meeting_id}/join"
JOIN_ANSWER = {"token", "edge_url", "edge_id", "expires_at", "meeting_id", "role", "permissions", "lobby", "epoch",
               "alt", "alternates", "region", "e2ee"}


@pytest.fixture
def eu_stack(tmp_path: Path) -> Iterator[tuple[Topology, procs.Proc, dict[str, procs.Proc]]]:
    with regional_stack(tmp_path, {"eu": ["eu-1", "eu-2"]}) as stack:
        yield stack


class GuideClient:
    """Exactly the steps of the guide's Join, Publish and Subscribe flows."""

    def __init__(self, granted: dict[str, Any]) -> None:
        self.granted = granted
        self.seen: list[dict[str, Any]] = []
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.track_ids: set[str] = set()   # from a=msid of the subscribe offers
        self.pcs: list[RTCPeerConnection] = []
        self.tasks: list[asyncio.Task] = []
        self.sub_pc: RTCPeerConnection | None = None

    async def join(self) -> dict[str, Any]:
        self.ws = await connect(self.granted["edge_url"], open_timeout=5)
        self.tasks.append(asyncio.get_running_loop().create_task(self._read()))
        await self.ws.send(json.dumps({"type": "join", "id": 1, "token": self.granted["token"],
                                       "meeting_id": self.granted["meeting_id"]}))
        self.joined = await self.wait(lambda m: m["type"] in ("joined", "error") and m.get("re") == 1)
        return self.joined

    def config(self) -> RTCConfiguration:
        return RTCConfiguration(iceServers=[RTCIceServer(urls=s["urls"], username=s.get("username"),
                                                         credential=s.get("credential"))
                                            for s in self.joined["ice_servers"]])

    async def publish(self) -> dict[str, Any]:
        pc = RTCPeerConnection(self.config())
        self.pcs.append(pc)
        mic = pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        cam = pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.ws.send(json.dumps({"type": "offer", "id": "p1", "pc": "publish", "sdp": pc.localDescription.sdp,
                                       "sources": {mic.mid: "microphone", cam.mid: "camera"}}))
        answer = await self.wait(lambda m: m.get("re") == "p1")
        assert answer["type"] == "answer" and answer["pc"] == "publish", answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return answer

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            self.seen.append(msg)
            if msg["type"] == "offer" and msg["pc"] == "subscribe":
                await self._answer(msg["sdp"])

    async def _answer(self, sdp: str) -> None:
        if self.sub_pc is None:
            self.sub_pc = RTCPeerConnection(self.config())
            self.pcs.append(self.sub_pc)
            self.sub_pc.on("track", lambda track: self.tasks.append(
                asyncio.get_running_loop().create_task(self._count(track))))
        await self.sub_pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for line in sdp.splitlines():
            if line.startswith("a=msid:"):
                self.track_ids.add(line.split()[1])
        await self.sub_pc.setLocalDescription(await self.sub_pc.createAnswer())
        await self.ws.send(json.dumps({"type": "answer", "pc": "subscribe", "sdp": self.sub_pc.localDescription.sdp}))

    async def _count(self, track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[track.kind] += 1

    async def wait(self, ok, timeout: float = 15) -> dict[str, Any]:  # noqa: ANN001
        async def found() -> dict[str, Any] | None:
            return next((m for m in self.seen if ok(m)), None)
        return await eventually(found, timeout=timeout, interval=0.05, what="a message")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send(json.dumps({"type": "leave"}))
            await self.ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for pc in self.pcs:
            await pc.close()


async def test_a_client_written_from_the_guide_joins_publishes_and_receives(eu_stack) -> None:  # noqa: ANN001
    _topo, cp, edges = eu_stack
    await eventually(lambda: listed_edges(cp) == ["eu-1", "eu-2"], timeout=20, what="both edges listed")
    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        # the OpenAPI document, where the guide says it is served, describes the join call
        assert "text/html" in (await http.get("/api/docs")).headers["content-type"]
        openapi = (await http.get("/api/docs/openapi.json")).json()
        join_op = openapi["paths"][JOIN_PATH]["post"]
        schemas = openapi["components"]["schemas"]

        def props(ref: dict) -> set[str]:
            ref = ref.get("$ref") or next(x["$ref"] for x in ref.get("oneOf", []) if "$ref" in x)
            return set(schemas[ref.rsplit("/", 1)[1]]["properties"])
        assert props(join_op["requestBody"]["content"]["application/json"]["schema"]) == \
            {"display_name", "password", "region"}
        assert props(join_op["responses"]["200"]["content"]["application/json"]["schema"]) == JOIN_ANSWER

        meeting = await create_meeting(cp, await admin_headers(cp))
        refused = await http.post(f"/api/v1/meetings/{meeting}/join", json={})
        assert refused.status_code == 400 and refused.json()["fields"][0]["field"] == "display_name", refused.text
        granted = []
        for name in ("Ann", "Bob"):
            r = await http.post(f"/api/v1/meetings/{meeting}/join", json={"display_name": name, "region": "eu"})
            assert r.status_code == 200, r.text
            granted.append(r.json())
    for g in granted:
        assert set(g) == JOIN_ANSWER and g["role"] == "guest" and g["region"] == "eu" and g["meeting_id"] == meeting
        other = next(e for e in edges if e != g["edge_id"])
        assert g["edge_url"] == f"ws://127.0.0.1:{edges[g['edge_id']].port}/ws"
        assert g["alternates"] == [{"edge_id": other, "url": f"ws://127.0.0.1:{edges[other].port}/ws"}]
        assert g["alt"] == [other]

    ann, bob = GuideClient(granted[0]), GuideClient(granted[1])
    try:
        for c in (ann, bob):
            joined = await c.join()
            assert joined["type"] == "joined" and joined["seq"] == 1, joined
        await ann.publish()
        await eventually(lambda: len([m for m in bob.seen if m["type"] == "track_published"]) == 2, timeout=15,
                         what="both tracks published")
        published = [m["track"] for m in bob.seen if m["type"] == "track_published"]
        assert {(t["source"], t["codec"]) for t in published} == {("microphone", "opus"), ("camera", "VP8")}
        await eventually(lambda: bob.frames["video"] >= 10 and bob.frames["audio"] >= 10, timeout=40, interval=0.2,
                         what="Bob decodes Ann's audio and video")
        assert {t["track_id"] for t in published} <= bob.track_ids   # ontrack maps to track_published by msid
    finally:
        for c in (ann, bob):
            await c.close()
