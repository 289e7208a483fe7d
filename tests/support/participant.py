"""A meeting participant that does what the web app does, in Python: join through the control
plane, talk to the edge over ``/ws`` (``docs/protocol.md``), publish audio and video from aiortc,
answer the edge's subscribe offers, decode what arrives — and reconnect when the edge goes away.

Use::

    p = await Participant.join(cp_url, meeting_id, "Ann", region="eu")   # a guest called Ann
    p = await Participant.join(cp_url, meeting_id, {"Authorization": "Bearer …"})  # signed in
    p = await Participant.connect(token, edge_url, alternates)           # a token in hand
    granted = await Participant.grant(cp_url, meeting_id, "Cy")          # a token for later
    await p.publish()                       # microphone + camera (640×480 test pattern)
    p.decoded("video"); p.frames_since(t)   # frames decoded, in all, or since monotonic time t
    await p.wait_frames(10, since=t)        # until 10 video frames arrived after t
    p.edge.edge_id, p.participant_id, p.history
    await p.close()                         # leave (the edge is told), close the peer connections

Reconnecting: when the socket drops (not after ``leave``, a kick, a denial or the end of the
meeting) the client tries the same edge again after a random 0–1 s, resuming its place
(``resume_token`` + ``last_seq``; ``restart_media`` when its peer connections failed), then each
alternate edge in the order the control plane listed them, waiting ``0.5 s · 2ⁿ`` (at most 5 s)
±50 % between attempts. An edge that does not know the participant (another edge, or the same one
restarted) gets a fresh ``join`` with the join token (valid there: the token lists the alternates),
and the participant publishes again on new peer connections. A participant that joined through
the control plane asks it for a new token after a full round of failed attempts.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

#: Close codes after which there is nothing to come back to.
FINAL_CLOSES = {1000: "left", 4010: "kicked", 4011: "meeting ended", 4012: "denied", 4013: "replaced"}


def reconnect_delays(rng: random.Random, base: float = 0.5, cap: float = 5.0) -> Iterator[float]:
    """Waits before each attempt: a random 0–1 s first, then ``base · 2ⁿ`` (≤ *cap*) ±50 %."""
    yield rng.uniform(0.0, 1.0)
    n = 0
    while True:
        yield min(base * 2 ** n, cap) * rng.uniform(0.5, 1.5)
        n += 1


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a join token, unverified (the edge verifies; the client only reads eid/alt/mid)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass(frozen=True)
class EdgeRef:
    edge_id: str
    url: str


def _refs(alternates: Any) -> list[EdgeRef]:
    return [a if isinstance(a, EdgeRef) else EdgeRef(a["edge_id"], a["url"]) for a in alternates]


@dataclass
class TrackStats:
    track_id: str
    publisher: str
    kind: str
    frames: int = 0
    first_at: float | None = None
    last_at: float | None = None


@dataclass
class _ControlPlane:
    url: str
    meeting_id: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, url: str, meeting_id: str, who: str | dict[str, str] | None, region: str | None,
           password: str | None) -> _ControlPlane:
        body: dict[str, Any] = {"display_name": who} if isinstance(who, str) else {}
        body.update({k: v for k, v in (("region", region), ("password", password)) if v})
        return cls(url, meeting_id, dict(who) if isinstance(who, dict) else {}, body)

    async def join(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            r = await http.post(f"/api/v1/meetings/{self.meeting_id}/join", json=self.body, headers=self.headers)
        if r.status_code != 200:
            raise JoinRefused(r.status_code, r.text)
        return r.json()


class JoinRefused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"join refused: HTTP {status}: {text}")
        self.status = status


class Participant:
    def __init__(self, token: str, edge: EdgeRef, alternates: list[EdgeRef], *, cp: _ControlPlane | None = None,
                 rng: random.Random | None = None) -> None:
        claims = token_claims(token)
        self.token, self.edge, self.alternates, self.cp = token, edge, list(alternates), cp
        self.meeting_id: str = claims["mid"]
        self.rng = rng or random.Random()
        self.participant_id = ""
        self.joined: dict[str, Any] = {}
        self.roster: dict[str, dict[str, Any]] = {}
        self.seen: list[dict[str, Any]] = []
        self.last_seq = 0
        #: (monotonic time, what, edge id): joined, lost, resumed, rejoined, gave_up, attempt_failed …
        self.history: list[tuple[float, str, str]] = []
        self.tracks: dict[str, TrackStats] = {}
        #: The control plane's answer to the last join request (empty when given a token).
        self.granted: dict[str, Any] = {}
        self.final: str | None = None
        self.sources: tuple[str, ...] = ()
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.connected = asyncio.Event()
        self._frame_times: dict[str, list[float]] = {"audio": [], "video": []}
        self._ws: ClientConnection | None = None
        self._resume_edge = ""
        self._resume_token = ""
        self._gen = 0
        self._live_gen = -1
        self._old_pcs: list[RTCPeerConnection] = []
        self._closing = False
        self._lost = asyncio.Event()
        self._waiters: list[tuple[int, Any, asyncio.Future]] = []  # (connection, accepts(msg), reply)
        self._offers: asyncio.Queue[tuple[int, dict]] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._ids = 0

    # -- making one ---------------------------------------------------------------------------------
    @classmethod
    async def grant(cls, cp_url: str, meeting_id: str, who: str | dict[str, str] | None = None, *,
                    region: str | None = None, password: str | None = None) -> dict[str, Any]:
        """Only ask the control plane for a token (the join response), to connect later."""
        return await _ControlPlane.of(cp_url, meeting_id, who, region, password).join()

    @classmethod
    async def join(cls, cp_url: str, meeting_id: str, who: str | dict[str, str] | None = None, *,
                   region: str | None = None, password: str | None = None) -> Participant:
        """Ask the control plane for a token (*who*: a guest's name, or the headers of a signed-in
        account) and join on the edge it names."""
        cp = _ControlPlane.of(cp_url, meeting_id, who, region, password)
        granted = await cp.join()
        p = cls(granted["token"], EdgeRef(granted["edge_id"], granted["edge_url"]), _refs(granted["alternates"]),
                cp=cp)
        p.granted = granted
        await p._start()
        return p

    @classmethod
    async def connect(cls, token: str, edge_url: str, alternates: list[EdgeRef | dict] = (), *,
                      rng: random.Random | None = None) -> Participant:
        """Join with a token in hand (no control plane to fall back on)."""
        p = cls(token, EdgeRef(token_claims(token)["eid"], edge_url), _refs(alternates), rng=rng)
        await p._start()
        return p

    async def _start(self) -> None:
        if not await self._attempt(self.edge):
            raise ConnectionError(f"could not join on {self.edge.edge_id}: {self.history[-1:]}")
        self._spawn(self._supervise())
        self._spawn(self._negotiate())
        self._spawn(self._keepalive())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what tests read ----------------------------------------------------------------------------
    def decoded(self, kind: str = "video") -> int:
        return len(self._frame_times[kind])

    def frames_since(self, t: float, kind: str = "video") -> int:
        times = self._frame_times[kind]
        return len(times) - bisect.bisect_left(times, t)

    def frames_from(self, publisher: str, kind: str = "video") -> int:
        return sum(s.frames for s in self.tracks.values() if s.publisher == publisher and s.kind == kind)

    async def wait_frames(self, n: int = 10, *, since: float = 0.0, kind: str = "video", timeout: float = 40) -> float:
        """Until *n* frames of *kind* were decoded after *since*; returns the time of the n-th."""
        deadline = time.monotonic() + timeout
        while self.frames_since(since, kind) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {self.frames_since(since, kind)} of {n} {kind} frames within "
                                     f"{timeout}s; history {self.history}")
            await asyncio.sleep(0.1)
        times = self._frame_times[kind]
        return times[bisect.bisect_left(times, since) + n - 1]

    @property
    def name(self) -> str:
        return self.joined.get("name", "?")

    # -- one connection -----------------------------------------------------------------------------
    async def _attempt(self, edge: EdgeRef) -> bool:
        """Connect to *edge*: resume there if it holds our place, else join afresh. True if in."""
        try:
            ws = await connect(edge.url, open_timeout=3, max_size=None, close_timeout=1)
        except (TimeoutError, OSError, Exception) as exc:  # noqa: BLE001 - refused, reset, timeout
            self.history.append((time.monotonic(), f"attempt_failed: {exc!r}"[:120], edge.edge_id))
            return False
        self._gen += 1
        gen = self._gen
        self._ws = ws
        reader = asyncio.get_running_loop().create_task(self._read(ws, gen))
        self._tasks.add(reader)
        reader.add_done_callback(self._tasks.discard)
        try:
            how = await self._handshake(edge)
        except (TimeoutError, AssertionError, ConnectionClosed) as exc:
            self.history.append((time.monotonic(), f"attempt_failed: {exc}"[:120], edge.edge_id))
            self._gen += 1  # this socket no longer counts
            with contextlib.suppress(Exception):
                await ws.close()
            return False
        self.edge = edge
        self.history.append((time.monotonic(), how, edge.edge_id))
        self._live_gen = gen
        self.connected.set()
        if reader.done():  # dropped again already
            self._lost.set()
        return True

    async def _handshake(self, edge: EdgeRef) -> str:
        if self._resume_token and self._resume_edge == edge.edge_id:
            broken = any(pc is not None and pc.connectionState in ("failed", "closed")
                         for pc in (self.publish_pc, self.subscribe_pc))
            reply = await self._request({"type": "join", "resume_token": self._resume_token, "last_seq": self.last_seq,
                                         "meeting_id": self.meeting_id, "restart_media": broken},
                                        ("resumed", "error"))
            if reply["type"] == "resumed":
                if reply.get("media_restarted"):
                    await self._restart_media()
                return "resumed"
            if reply.get("code") != "resume_failed":
                raise AssertionError(f"resume refused: {reply}")
        reply = await self._request({"type": "join", "token": self.token, "meeting_id": self.meeting_id},
                                    ("joined", "lobby_waiting", "error"))
        if reply["type"] == "error":
            raise AssertionError(f"join refused: {reply.get('code')}: {reply.get('message')}")
        first = not self.participant_id
        self.participant_id = reply["participant_id"]
        self._resume_token, self._resume_edge = reply["resume_token"], edge.edge_id
        if not first:
            await self._restart_media()
        return "joined" if first else "rejoined"

    async def ask(self, msg: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        """Send a request; its reply (``ok``, ``error`` or the request's own answer)."""
        return await self._request(msg, ("ok", "error"), timeout)

    async def _request(self, msg: dict[str, Any], types: tuple[str, ...], timeout: float = 10) -> dict[str, Any]:
        self._ids += 1
        rid = f"r{self._ids}"
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((self._gen, lambda m: m.get("re") == rid and m["type"] in types, fut))
        await self._send({**msg, "id": rid})
        async with asyncio.timeout(timeout):
            return await fut

    async def _send(self, msg: dict[str, Any]) -> None:
        if self._ws is None:
            raise ConnectionClosed(None, None)
        await self._ws.send(json.dumps(msg))

    async def _read(self, ws: ClientConnection, gen: int) -> None:
        try:
            async for raw in ws:
                if gen != self._gen:
                    return
                self._on_message(json.loads(raw), gen)
        except ConnectionClosed:
            pass
        finally:
            if gen == self._live_gen and not self._closing:
                code = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None
                if code in FINAL_CLOSES:
                    self.final = FINAL_CLOSES[code]
                    self.history.append((time.monotonic(), f"closed: {self.final}", self.edge.edge_id))
                self.connected.clear()
                self._lost.set()
            for waiter in [w for w in self._waiters if w[0] == gen]:
                if not waiter[2].done():
                    waiter[2].set_exception(ConnectionClosed(None, None))
                self._waiters.remove(waiter)

    def _on_message(self, msg: dict[str, Any], gen: int) -> None:
        self.last_seq = max(self.last_seq, msg.get("seq", 0))
        self.seen.append(msg)
        for waiter in list(self._waiters):
            if waiter[0] == gen and not waiter[2].done() and waiter[1](msg):
                waiter[2].set_result(msg)
                self._waiters.remove(waiter)
        match msg["type"]:
            case "joined":
                if self.participant_id and msg["participant_id"] != self.participant_id:
                    self._detach_media()  # a new place on an edge that did not know us
                self.joined = msg
                self.roster = {p["participant_id"]: p for p in msg["roster"]}
            case "participant_joined" | "participant_updated":
                self.roster[msg["participant"]["participant_id"]] = msg["participant"]
            case "participant_left":
                self.roster.pop(msg["participant_id"], None)
            case "resumed" if msg.get("media_restarted"):
                self._detach_media()
            case "offer" if msg.get("pc") == "subscribe":
                self._offers.put_nowait((gen, msg))

    # -- media ----------------------------------------------------------------------------------------
    def _rtc_config(self) -> RTCConfiguration:
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in self.joined.get("ice_servers", [])]
        return RTCConfiguration(iceServers=servers)

    async def publish(self, sources: tuple[str, ...] = ("microphone", "camera")) -> None:
        """Send a publish offer with one track per source; wait for the edge's answer."""
        self.sources = tuple(sources)
        old, self.publish_pc = self.publish_pc, RTCPeerConnection(self._rtc_config())
        if old is not None:
            await old.close()
        pc = self.publish_pc
        for source in sources:
            pc.addTransceiver(AudioStreamTrack() if source == "microphone" else VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        mids = {t.mid: s for t, s in zip(pc.getTransceivers(), sources)}
        answer = await self._request({"type": "offer", "pc": "publish", "sdp": pc.localDescription.sdp,
                                      "sources": mids}, ("answer", "error"), timeout=20)
        if answer["type"] == "error":
            raise AssertionError(f"publish refused: {answer}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    def _detach_media(self) -> None:
        """Drop the peer connections at once (before the next offer is handled); closed later."""
        self._old_pcs += [pc for pc in (self.publish_pc, self.subscribe_pc) if pc is not None]
        self.publish_pc = self.subscribe_pc = None

    async def _restart_media(self) -> None:
        """New peer connections: the old ones lead to a dead edge or were restarted by it."""
        self._detach_media()
        old, self._old_pcs = self._old_pcs, []
        for pc in old:
            await pc.close()
        if self.sources:
            await self.publish(self.sources)

    async def _negotiate(self) -> None:
        """Answer the edge's subscribe offers, one at a time, in order."""
        while True:
            gen, offer = await self._offers.get()
            if gen != self._gen:
                continue  # an offer from a connection that is gone
            try:
                if self.subscribe_pc is None:
                    self.subscribe_pc = RTCPeerConnection(self._rtc_config())
                pc = self.subscribe_pc
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                for t in pc.getTransceivers():
                    track = t.receiver.track
                    if track is not None and not getattr(track, "_cc_read", False):
                        track._cc_read = True
                        self._spawn(self._read_track(pc, t.mid, track))
                await pc.setLocalDescription(await pc.createAnswer())
                if gen != self._gen or pc is not self.subscribe_pc:
                    continue  # the connection changed while answering: this answer is for nobody
                await self._send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})
            except (ConnectionClosed, Exception) as exc:  # noqa: BLE001 - the connection changed meanwhile
                self.history.append((time.monotonic(), f"offer_failed: {exc!r}"[:120], self.edge.edge_id))

    def _track_of(self, pc: RTCPeerConnection, mid: str, kind: str) -> TrackStats:
        """The remote track in m-section *mid*: ``a=msid:<publisher id> <track id>``."""
        for section in (pc.remoteDescription.sdp if pc.remoteDescription else "").split("m=")[1:]:
            found = re.search(r"a=msid:(\S+) (\S+)", section)
            if re.search(rf"a=mid:{re.escape(mid)}\s", section) and found:
                return self.tracks.setdefault(found.group(2), TrackStats(found.group(2), found.group(1), kind))
        return self.tracks.setdefault(f"mid-{mid}", TrackStats(f"mid-{mid}", "", kind))

    async def _read_track(self, pc: RTCPeerConnection, mid: str, track: Any) -> None:
        stats = self._track_of(pc, mid, track.kind)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                now = time.monotonic()
                stats.frames += 1
                stats.first_at = stats.first_at or now
                stats.last_at = now
                self._frame_times[track.kind].append(now)

    # -- staying connected ------------------------------------------------------------------------
    async def _supervise(self) -> None:
        while not self._closing:
            await self._lost.wait()
            self._lost.clear()
            if self._closing or self.final:
                return
            self.history.append((time.monotonic(), "lost", self.edge.edge_id))
            await self._reconnect()

    async def _reconnect(self) -> None:
        delays = reconnect_delays(self.rng)
        while not self._closing:
            targets = [self.edge] + [a for a in self.alternates if a.edge_id != self.edge.edge_id]
            for target in targets:
                await asyncio.sleep(next(delays))
                if self._closing:
                    return
                if await self._attempt(target):
                    return
            if self.cp is not None:
                with contextlib.suppress(Exception):
                    granted = await self.cp.join()
                    self.token, self.granted = granted["token"], granted
                    edge = EdgeRef(granted["edge_id"], granted["edge_url"])
                    if edge not in targets:  # somewhere new to go: start again from a short wait
                        delays = reconnect_delays(self.rng)
                    self.edge = edge
                    self.alternates = _refs(granted["alternates"])
                    self.history.append((time.monotonic(), "new_token", self.edge.edge_id))

    async def _keepalive(self) -> None:
        while not self._closing:
            await asyncio.sleep(15)
            with contextlib.suppress(Exception):
                await self._send({"type": "ping", "t": time.time()})

    async def close(self) -> None:
        """Leave the meeting and release everything."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._send({"type": "leave"})
                await asyncio.wait_for(self._ws.wait_closed(), 3)
            with contextlib.suppress(Exception):
                await self._ws.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.publish_pc, self.subscribe_pc, *self._old_pcs):
            if pc is not None:
                await pc.close()
