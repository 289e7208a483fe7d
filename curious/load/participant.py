"""One simulated participant of ``curious load``: it joins through the control plane's API, speaks
the edge's signaling protocol over ``/ws`` (``docs/protocol.md``), publishes a test video from
aiortc and/or receives and decodes what the edge sends, and records when each of that happened.

It reaches only the addresses the run allows: the control plane's URL it was given and edges whose
host is allowed (``Aim``); an edge elsewhere is refused before anything is sent to it, and the
join answer's ICE servers (STUN, TURN) elsewhere are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import av
import httpx
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

JOIN_TIMEOUT = 15.0  # seconds for the control plane's answer, the socket and the edge's ``joined``
PING_EVERY = 15.0  # the edge closes a socket idle for 60 s


class Refused(Exception):
    """The run may not reach this address."""


class Failed(Exception):
    """The control plane or the edge refused something: the reason, as they gave it."""


@dataclass(frozen=True)
class Aim:
    """Where a run may go: the control plane it was given and the edge hosts allowed."""

    control_plane: str
    hosts: frozenset[str]

    def check_edge(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise Refused(f"edge URL {url!r} is not a ws:// or wss:// URL")
        if parts.hostname.lower() not in self.hosts:
            raise Refused(f"edge {url} is on host {parts.hostname}, which is not allowed "
                          f"(allowed: {', '.join(sorted(self.hosts))}; add it with --allow-host)")

    def allows(self, url: str) -> bool:
        """Whether an ICE server URL (``stun:host:port``, ``turn:host?transport=udp``) is on an allowed host."""
        rest = url.split(":", 1)[1] if ":" in url else url
        rest = rest.split("?", 1)[0]
        host = rest[1:].split("]", 1)[0] if rest.startswith("[") else rest.rsplit(":", 1)[0] if ":" in rest else rest
        return host.lower() in self.hosts


class TestPattern(MediaStreamTrack):
    """A video track at *fps* of *width*×*height* frames: grey with a bar moving across, so each
    frame differs from the last as a camera's would."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: int) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.sent = 0
        self._ticks = 0
        self._start: float | None = None
        bar = max(2, width // 16)
        self._lumas: list[bytes] = []
        for step in range(16):
            row = bytearray(b"\x60" * width)
            left = step * (width - bar) // 15
            row[left:left + bar] = b"\xe0" * bar
            self._lumas.append(bytes(row) * height)
        self._chroma = b"\x80" * ((width // 2) * (height // 2))

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            self._ticks += 1
            await asyncio.sleep(max(0.0, self._start + self._ticks / self.fps - now))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self._lumas[self._ticks % len(self._lumas)])
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = self._ticks * (90000 // self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


@dataclass
class Record:
    """What happened to one participant (monotonic times; 0: never)."""

    index: int
    name: str
    publishes: bool
    started: float = 0.0
    joined: float = 0.0
    published: float = 0.0
    first_frame: float = 0.0
    left: float = 0.0
    edge_id: str = ""
    edge_url: str = ""
    failure: str = ""
    #: Video frames decoded, over all tracks received (the sampler reads it each second).
    frames: int = 0
    #: track id → [first frame, last frame, frames]
    tracks: dict[str, list[float]] = field(default_factory=dict)
    pattern: TestPattern | None = None

    @property
    def frames_sent(self) -> int:
        return self.pattern.sent if self.pattern else 0


class LoadParticipant:
    def __init__(self, record: Record, aim: Aim, http: httpx.AsyncClient, *, headers: dict[str, str],
                 size: tuple[int, int], fps: int, audio: bool) -> None:
        self.r, self.aim, self.http, self.headers = record, aim, http, headers
        self.size, self.fps, self.audio = size, fps, audio
        self.ws: ClientConnection | None = None
        self.pcs: list[RTCPeerConnection] = []
        self.subscribe_pc: RTCPeerConnection | None = None
        self.config = RTCConfiguration(iceServers=[])
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._leaving = False

    async def run(self, meeting_id: str, stop: asyncio.Event) -> None:
        """Join, publish and/or receive until *stop*, then leave. Failures end up in the record."""
        self.r.started = time.monotonic()
        try:
            async with asyncio.timeout(JOIN_TIMEOUT):
                await self._join(meeting_id)
            if self.r.publishes:
                async with asyncio.timeout(JOIN_TIMEOUT):
                    await self._publish()
            await self._until(stop)
        except Refused as exc:
            self.r.failure = f"refused: {exc}"
        except Failed as exc:
            self.r.failure = f"{self._stage()}: {exc}"
        except TimeoutError:
            self.r.failure = f"timed out ({self._stage()})"
        except ConnectionClosed as exc:
            self.r.failure = f"connection closed ({self._stage()}): {exc}"
        except (OSError, httpx.HTTPError) as exc:
            self.r.failure = f"network ({self._stage()}): {exc!r}"[:300]
        except Exception as exc:  # noqa: BLE001 - any other way a participant fails is reported, not raised
            self.r.failure = f"{self._stage()}: {exc!r}"[:300]
        finally:
            await self.leave()

    def _stage(self) -> str:
        return "publishing" if self.r.joined and not self.r.published and self.r.publishes else \
            "in the meeting" if self.r.joined else "joining"

    async def _join(self, meeting_id: str) -> None:
        body = {} if self.headers else {"display_name": self.r.name}
        resp = await self.http.post(f"{self.aim.control_plane}/api/v1/meetings/{meeting_id}/join",
                                    json=body, headers=self.headers)
        if resp.status_code != 200:
            raise Failed(f"join refused by the control plane: HTTP {resp.status_code} {_error_of(resp)}")
        granted = resp.json()
        self.r.edge_id, self.r.edge_url = granted["edge_id"], granted["edge_url"]
        self.aim.check_edge(self.r.edge_url)
        self.ws = await connect(self.r.edge_url, open_timeout=JOIN_TIMEOUT, max_size=None, close_timeout=2, proxy=None)
        await self.ws.send(json.dumps({"type": "join", "id": "join", "token": granted["token"],
                                       "meeting_id": meeting_id}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("type") == "joined":
                break
            if msg.get("type") in ("error", "lobby_waiting"):
                why = f"{msg.get('code', msg['type'])}: {msg.get('message', '')}"
                raise Failed(f"join refused by the edge: {why}")
        self.r.joined = time.monotonic()
        servers = [s for s in msg.get("ice_servers", [])
                   if all(self.aim.allows(u) for u in ([s["urls"]] if isinstance(s["urls"], str) else s["urls"]))]
        self.config = RTCConfiguration(iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in servers])
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._keepalive())]

    async def _publish(self) -> None:
        pc = RTCPeerConnection(self.config)
        self.pcs.append(pc)
        self.r.pattern = TestPattern(*self.size, self.fps)
        sources: list[tuple[str, MediaStreamTrack]] = [("camera", self.r.pattern)]
        if self.audio:
            sources.append(("microphone", AudioStreamTrack()))
        for _, track in sources:
            pc.addTransceiver(track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        mids = {t.mid: source for t, (source, _) in zip(pc.getTransceivers(), sources, strict=True)}
        self._answer = asyncio.get_running_loop().create_future()
        await self._send({"type": "offer", "id": "publish", "pc": "publish", "sdp": pc.localDescription.sdp,
                          "sources": mids})
        answer = await self._answer
        if answer["type"] == "error":
            raise Failed(f"publish refused: {answer.get('code')}: {answer.get('message')}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        self.r.published = time.monotonic()

    async def _until(self, stop: asyncio.Event) -> None:
        reader = self._tasks[0]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([reader, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not stop.is_set():
            code = self.ws.close_code if self.ws else None
            raise ConnectionClosed(None, None) if code is None else Failed(
                f"the edge closed the socket ({code} {self.ws.close_reason if self.ws else ''})".strip())

    async def _send(self, msg: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(msg))

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "offer" and msg.get("pc") == "subscribe":
                    await self._answer_offer(msg["sdp"])
                elif self._answer is not None and not self._answer.done() and msg.get("re") == "publish":
                    self._answer.set_result(msg)

    async def _answer_offer(self, sdp: str) -> None:
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(self.config)
            self.pcs.append(self.subscribe_pc)
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for t in pc.getTransceivers():
            track = t.receiver.track
            if track is not None and track.kind == "video" and t.mid not in self.r.tracks:
                self.r.tracks[str(t.mid)] = [0.0, 0.0, 0]
                self._tasks.append(asyncio.create_task(self._count(str(t.mid), track)))
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})

    async def _count(self, mid: str, track: MediaStreamTrack) -> None:
        stats = self.r.tracks[mid]
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                now = time.monotonic()
                if not stats[2]:
                    stats[0] = now
                stats[1] = now
                stats[2] += 1
                self.r.first_frame = self.r.first_frame or now
                self.r.frames += 1

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(PING_EVERY)
            with contextlib.suppress(Exception):
                await self._send({"type": "ping"})

    async def leave(self) -> None:
        """Say ``leave`` and release the socket and the peer connections (idempotent)."""
        if self._leaving:
            return
        self._leaving = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self._send({"type": "leave"})
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in self.pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 2)
        if self.r.joined:
            self.r.left = time.monotonic()


def _error_of(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:200]
    return str(body)[:200]
