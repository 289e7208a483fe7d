"""Real aiortc clients for a Room, in the same process, over real UDP.

There is no signaling layer here: a :class:`Client` calls the Room API directly and
:class:`Events` (the RoomEvents implementation) hands subscriber offers to the right client.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from edge.sfu.interfaces import Grants, TrackInfo
from edge.sfu.room import Room

ALL = Grants(publish=frozenset({"microphone", "camera", "screen"}), subscribe=True)


class ToneTrack(AudioStreamTrack):
    """48 kHz mono audio: a 440 Hz tone while :attr:`speaking`, else silence."""

    def __init__(self, speaking: bool = False) -> None:
        super().__init__()
        self.speaking = speaking
        self._n = 0
        self._start = 0.0
        rate, samples = 48000, int(AUDIO_PTIME * 48000)
        self._tone = struct.pack(f"<{samples}h", *(int(8000 * math.sin(2 * math.pi * 440 * i / rate))
                                                   for i in range(samples)))
        self._silence = bytes(2 * samples)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        rate, samples = 48000, int(AUDIO_PTIME * 48000)
        if self._n == 0:
            self._start = time.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._n * AUDIO_PTIME - time.time()))
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(self._tone if self.speaking else self._silence)
        frame.pts, frame.sample_rate, frame.time_base = self._n * samples, rate, fractions.Fraction(1, rate)
        self._n += 1
        return frame


class PatternTrack(VideoStreamTrack):
    """640×480 video at 30 fps: a bright bar moving over a grey background."""

    WIDTH, HEIGHT = 640, 480

    def __init__(self) -> None:
        super().__init__()
        self._i = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.WIDTH, height=self.HEIGHT)
        y = bytearray(b"\x60" * (self.WIDTH * self.HEIGHT))
        top = (self._i * 8) % (self.HEIGHT - 40)
        y[top * self.WIDTH:(top + 40) * self.WIDTH] = b"\xe0" * (40 * self.WIDTH)
        frame.planes[0].update(bytes(y))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self._i += 1
        return frame


@dataclass
class Received:
    """What a client decoded from one of its subscribe PC's receivers."""
    kind: str
    frames: int = 0
    size: tuple[int, int] | None = None
    first: float | None = None
    last: float | None = None


@dataclass
class RtpLog:
    """Every RTP packet a client's receiver took in: (ssrc, seq, timestamp, arrival)."""
    packets: list[tuple[int, int, int, float]] = field(default_factory=list)


class Client:
    def __init__(self, room: Room, participant_id: str) -> None:
        self.room = room
        self.id = participant_id
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.tracks: dict[str, MediaStreamTrack] = {}  # source → local track
        self.received: dict[str, Received] = {}  # subscribe PC mid → what was decoded
        self.rtp: dict[str, RtpLog] = {}  # subscribe PC mid → packets
        self.answers = 0
        self._readers: list[asyncio.Task] = []
        self._lock = asyncio.Lock()

    @staticmethod
    def _pc() -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def join(self, grants: Grants = ALL) -> Client:
        await self.room.add_peer(self.id, grants)
        return self

    async def publish(self, audio: bool = True, video: bool = True, video_codec: str | None = None,
                      speaking: bool = False) -> str:
        """Publish a microphone and/or camera; returns the edge's answer."""
        self.publish_pc = pc = self._pc()
        sources = []
        if audio:
            self.tracks["microphone"] = ToneTrack(speaking)
            pc.addTransceiver(self.tracks["microphone"], direction="sendonly")
            sources.append("microphone")
        if video:
            self.tracks["camera"] = PatternTrack()
            t = pc.addTransceiver(self.tracks["camera"], direction="sendonly")
            if video_codec:
                t.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                       if c.name == video_codec][:1])
            sources.append("camera")
        await pc.setLocalDescription(await pc.createOffer())
        mids = {t.mid: s for t, s in zip(pc.getTransceivers(), sources)}
        answer = await self.room.publisher_offer(self.id, pc.localDescription.sdp, mids)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return answer

    async def on_offer(self, sdp: str) -> None:
        async with self._lock:
            if self.subscribe_pc is None:
                self.subscribe_pc = self._pc()
            pc = self.subscribe_pc
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for t in pc.getTransceivers():
                if t.mid not in self.received and t.receiver.track is not None:
                    self._watch(t.mid, t.receiver)
            await pc.setLocalDescription(await pc.createAnswer())
            await self.room.subscriber_answer(self.id, pc.localDescription.sdp)
            self.answers += 1

    def _watch(self, mid: str, receiver) -> None:
        received = self.received[mid] = Received(receiver.track.kind)
        log = self.rtp[mid] = RtpLog()
        original = receiver._handle_rtp_packet

        async def handle(packet, arrival_time_ms):  # the client side's own instrumentation
            log.packets.append((packet.ssrc, packet.sequence_number, packet.timestamp, time.monotonic()))
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle
        self._readers.append(asyncio.ensure_future(self._read(receiver.track, received)))

    @staticmethod
    async def _read(track, received: Received) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                received.frames += 1
                received.first = received.first or now
                received.last = now
                if isinstance(frame, VideoFrame):
                    received.size = (frame.width, frame.height)
        except MediaStreamError:
            pass

    def decoded(self, kind: str) -> int:
        return sum(r.frames for r in self.received.values() if r.kind == kind)

    def video_sizes(self) -> set[tuple[int, int] | None]:
        return {r.size for r in self.received.values() if r.kind == "video" and r.frames}

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


class Events:
    """RoomEvents for tests: records everything and forwards subscriber offers to clients."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.published: list[TrackInfo] = []
        self.unpublished: list[TrackInfo] = []
        self.speakers: list[str | None] = []
        self.offers: dict[str, list[str]] = {}
        self.states: list[tuple[str, str, str]] = []
        self.auto_answer = True
        #: Errors of the clients' automatic answers (a test fails on any).
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task] = set()

    def on_track_published(self, track: TrackInfo) -> None:
        self.published.append(track)

    def on_track_unpublished(self, track: TrackInfo) -> None:
        self.unpublished.append(track)

    def on_active_speaker(self, participant_id: str | None) -> None:
        self.speakers.append(participant_id)

    def on_subscriber_offer(self, participant_id: str, sdp: str) -> None:
        self.offers.setdefault(participant_id, []).append(sdp)
        client = self.clients.get(participant_id)
        if client is not None and self.auto_answer:
            task = asyncio.ensure_future(client.on_offer(sdp))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())

    def on_peer_state(self, participant_id: str, pc: str, state: str) -> None:
        self.states.append((participant_id, pc, state))

    async def cancel(self) -> None:
        """Stop answering (the meeting is being torn down)."""
        self.auto_answer = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Meeting:
    """A Room with its Events, and the clients joined to it."""

    def __init__(self, room: Room, events: Events) -> None:
        self.room = room
        self.events = events
        self.clients: list[Client] = []

    async def join(self, participant_id: str, grants: Grants = ALL) -> Client:
        client = Client(self.room, participant_id)
        self.events.clients[participant_id] = client
        self.clients.append(client)
        return await client.join(grants)

    async def close(self) -> None:
        await self.events.cancel()
        for client in self.clients:
            await client.close()
        await self.room.close()
        assert not self.events.errors, f"a client's answer failed: {self.events.errors!r}"
