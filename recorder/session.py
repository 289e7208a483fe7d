"""One recorder's visit to a meeting on one edge, through the signaling protocol (docs/protocol.md).

The recorder joins like any client, with a join token whose ``hidden`` claim and ``record`` grant
give it a seat nobody sees (docs/tokens.md); the edge then offers it every track on its subscribe
PC, which it answers. Its RTP receivers are tapped (:func:`edge.sfu.aiortc_hooks.tap_receiver`,
the forwarding core's own hook): each packet, and each RTCP Sender Report, goes to a
:class:`TrackSink` for its m-section, and no decoder ever runs. What a packet is (whose track,
which source) comes from the offer's ``a=msid`` (participant id, track id) and the
``track_published`` messages. The visit ends when
the meeting ends on this edge, the recorder is removed, the socket closes, or :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.rtcrtpparameters import RTCRtpReceiveParameters
from aiortc.rtp import RtpPacket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from edge.sfu import aiortc_hooks as hooks

log = logging.getLogger(__name__)

PING_EVERY = 20.0  # seconds (the edge closes a socket idle for 60 s)
ENDING = ("meeting_ended", "kicked", "draining")


@dataclass
class TrackInfo:
    """What the meeting says of one track."""
    track_id: str
    participant_id: str = ""
    name: str = ""
    source: str = ""
    kind: str = ""
    codec: str = ""


class TrackSink(Protocol):
    """Where one received track's RTP packets (and its sender's reports) go."""

    def packet(self, packet: RtpPacket) -> None: ...

    def sender_report(self, ssrc: int, ntp_timestamp: int, rtp_timestamp: int) -> None: ...

    def close(self) -> None: ...


#: Makes the sink of a track once its codec (name, clock rate) is known.
SinkFactory = Callable[[TrackInfo, str, int], TrackSink]


def msids(sdp: str) -> dict[str, tuple[str, str]]:
    """mid → (participant id, track id) from each m-section's ``a=msid``."""
    out: dict[str, tuple[str, str]] = {}
    for section in sdp.split("\nm=")[1:]:
        mid = re.search(r"^a=mid:(\S+)", section, re.M)
        msid = re.search(r"^a=msid:(\S+) (\S+)", section, re.M)
        if mid and msid:
            out[mid.group(1)] = (msid.group(1), msid.group(2))
    return out


@dataclass
class Visit:
    """What one visit saw: the tracks, and why it ended."""
    tracks: dict[str, TrackInfo] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # participant id → display name
    ended: str = ""
    #: (Unix time, participant id or None) at each change of the active speaker.
    speakers: list[tuple[float, str | None]] = field(default_factory=list)


class Session:
    """Join *meeting_id* at *url* with *token* and hand every track's packets to sinks."""

    def __init__(self, url: str, token: str, meeting_id: str, sinks: SinkFactory) -> None:
        self.url, self.token, self.meeting_id = url, token, meeting_id
        self.make_sink = sinks
        self.visit = Visit()
        self.pc: RTCPeerConnection | None = None
        self.sinks: dict[int, TrackSink] = {}  # by id() of the transceiver
        self._mids: dict[str, tuple[str, str]] = {}
        self._ws: Any = None
        self._stopping = asyncio.Event()
        self._media_failed = ""
        #: Set once the edge has seated the recorder (``joined``).
        self.joined = asyncio.Event()

    # -- the socket ------------------------------------------------------------------------------
    async def run(self) -> Visit:
        """Join, record until the visit ends, and close every sink."""
        try:
            async with connect(self.url, open_timeout=10, max_size=None) as ws:
                self._ws = ws
                if self._stopping.is_set():   # stopped while connecting: leave before joining
                    self.visit.ended = "stopped"
                    return self.visit
                await ws.send(json.dumps({"type": "join", "id": 1, "token": self.token,
                                          "meeting_id": self.meeting_id}))
                pinger = asyncio.get_running_loop().create_task(self._ping())
                try:
                    await self._read(ws)
                finally:
                    pinger.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pinger
        except (OSError, ConnectionClosed) as exc:
            self.visit.ended = self.visit.ended or f"connection: {exc}"
        finally:
            await self._close_media()
        return self.visit

    async def stop(self) -> None:
        """Leave the meeting (the files are closed when :meth:`run` returns)."""
        self._stopping.set()
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"type": "leave"}))
            await self._ws.close()

    async def fail(self, error: str) -> None:
        """Tell the edge the recording failed (its moderators are told why), then leave."""
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"type": "recording_failed", "error": error[:500]}))
        await self.stop()

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_EVERY)
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"type": "ping", "t": 0}))

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "joined":
                for p in msg.get("roster", []):
                    self._learn_participant(p)
                self.visit.speakers.append((time.time(), msg.get("meeting", {}).get("active_speaker")))
                self.joined.set()
            elif kind == "participant_joined":
                self._learn_participant(msg.get("participant", {}))
            elif kind == "track_published":
                self._learn_track(msg.get("track", {}))
            elif kind == "active_speaker":
                self.visit.speakers.append((time.time(), msg.get("participant_id")))
            elif kind == "offer" and msg.get("pc") == "subscribe":
                try:
                    answer = await self.answer_offer(msg["sdp"])
                except InvalidStateError as exc:  # the transport closed under us: the socket says why next
                    self._media_failed = f"connection: media: {exc}"
                    continue
                with contextlib.suppress(ConnectionClosed):  # closing: what is queued still says why
                    await ws.send(json.dumps({"type": "answer", "pc": "subscribe", "sdp": answer}))
            elif kind == "error" and msg.get("re") == 1:
                self.visit.ended = f"refused: {msg.get('code')}: {msg.get('message')}"
                return
            elif kind in ENDING:
                self.visit.ended = kind + (f": {msg['reason']}" if msg.get("reason") else "")
                return
        if self._stopping.is_set():
            self.visit.ended = self.visit.ended or "stopped"
        self.visit.ended = self.visit.ended or self._media_failed

    def _learn_participant(self, p: dict[str, Any]) -> None:
        pid = p.get("participant_id", "")
        self.visit.names[pid] = p.get("name", "")
        for t in p.get("tracks", []):
            self._learn_track(t)

    def _learn_track(self, t: dict[str, Any]) -> None:
        if not t.get("track_id"):
            return
        pid = t.get("participant_id", "")
        self.visit.tracks[t["track_id"]] = TrackInfo(t["track_id"], pid, self.visit.names.get(pid, ""),
                                                     t.get("source", ""), t.get("kind", ""), t.get("codec", ""))

    # -- media -----------------------------------------------------------------------------------
    async def answer_offer(self, sdp: str) -> str:
        """Answer the edge's subscribe offer, tapping each new receiver into a sink."""
        if self.pc is None:
            self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            hooks.on_new_transceiver(self.pc, self._tap)
        self._mids.update(msids(sdp))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def _tap(self, transceiver: RTCRtpTransceiver) -> None:
        key = id(transceiver)

        def on_start(parameters: RTCRtpReceiveParameters) -> None:
            codec = parameters.codecs[0] if parameters.codecs else None
            pid, track_id = self._mids.get(transceiver.mid or "", ("", ""))
            if codec is None or not track_id:
                return
            info = self.visit.tracks.get(track_id) or TrackInfo(track_id, pid, self.visit.names.get(pid, ""))
            info.kind = info.kind or transceiver.kind
            self.sinks[key] = self.make_sink(info, codec.name, codec.clockRate)

        def on_packet(packet: RtpPacket) -> None:
            sink = self.sinks.get(key)
            if sink is not None:
                sink.packet(packet)

        def on_report(ssrc: int, ntp_timestamp: int, rtp_timestamp: int) -> None:
            sink = self.sinks.get(key)
            if sink is not None:
                sink.sender_report(ssrc, ntp_timestamp, rtp_timestamp)

        hooks.tap_receiver(transceiver.receiver, on_packet, on_start)
        hooks.tap_sender_reports(transceiver.receiver, on_report)

    async def _close_media(self) -> None:
        for sink in self.sinks.values():
            try:
                sink.close()
            except Exception:  # noqa: BLE001 — one broken file must not lose the others
                log.exception("a recorded track could not be closed")
        self.sinks.clear()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
