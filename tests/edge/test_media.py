"""Media through the edge over the signaling protocol: aiortc peers publish and subscribe through
``/ws`` exactly as a browser would, over real UDP, and decode what the edge forwards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from tests.edge.edge_support import MEETING, MODERATOR, VIEWER, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


def msids(sdp: str) -> dict[str, tuple[str, str]]:
    """mid → (publisher id, track id) from each m-section's ``a=msid``."""
    out: dict[str, tuple[str, str]] = {}
    for section in sdp.split("m=")[1:]:
        mid = re.search(r"a=mid:(\S+)", section)
        msid = re.search(r"a=msid:(\S+) (\S+)", section)
        if mid and msid:
            out[mid.group(1)] = (msid.group(1), msid.group(2))
    return out


class MediaClient:
    """The browser's part: a publish PC that offers and a subscribe PC that answers the edge."""

    def __init__(self, client: Client) -> None:
        self.c = client
        self.id = client.joined.get("participant_id", "")
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.frames: dict[str, int] = {}      # subscribe mid → frames decoded
        self.kinds: dict[str, str] = {}
        self.msid: dict[str, tuple[str, str]] = {}
        self.offers = 0
        self._tasks: list[asyncio.Task] = [asyncio.get_running_loop().create_task(self._answer_offers())]

    async def publish(self, sources: tuple[str, ...] = ("microphone", "camera"),
                      audio: MediaStreamTrack | None = None, video: MediaStreamTrack | None = None) -> None:
        pc = self.publish_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        for source in sources:
            pc.addTransceiver((audio or AudioStreamTrack()) if source == "microphone" else (video or VideoStreamTrack()),
                              direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        mids = {t.mid: s for t, s in zip(pc.getTransceivers(), sources)}
        await self.c.send({"type": "offer", "id": "pub", "pc": "publish", "sdp": pc.localDescription.sdp,
                           "sources": mids})
        answer = await self.c.expect("answer", re="pub", timeout=15)
        assert answer["pc"] == "publish"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def _answer_offers(self) -> None:
        with contextlib.suppress(AssertionError):      # the socket closed
            while True:
                offer = await self.c.expect("offer", timeout=3600)
                assert offer["pc"] == "subscribe"
                if self.subscribe_pc is None:
                    self.subscribe_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                pc = self.subscribe_pc
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                self.msid.update(msids(offer["sdp"]))
                for t in pc.getTransceivers():
                    if t.mid not in self.kinds and t.receiver.track is not None:
                        self.kinds[t.mid] = t.receiver.track.kind
                        self.frames[t.mid] = 0
                        self._tasks.append(asyncio.get_running_loop().create_task(self._read(t.mid, t.receiver.track)))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.c.send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})
                self.offers += 1

    async def _read(self, mid: str, track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[mid] += 1

    def decoded(self, kind: str) -> int:
        return sum(n for mid, n in self.frames.items() if self.kinds[mid] == kind)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        await self.c.close()


async def test_audio_and_video_flow_from_a_publisher_to_two_subscribers(edge: EdgeServer, tokens: TokenKit) -> None:
    pub = MediaClient(await joined_client(edge, tokens.sign(name="Pub")))
    s1 = MediaClient(await joined_client(edge, tokens.sign(name="S1", perms=MODERATOR)))
    s2 = MediaClient(await joined_client(edge, tokens.sign(name="S2", perms=VIEWER)))
    try:
        await pub.publish()
        tracks = {}
        for _ in range(2):
            msg = await s2.c.expect("track_published", timeout=10)
            tracks[msg["track"]["source"]] = msg["track"]
        assert {t["kind"] for t in tracks.values()} == {"audio", "video"}
        assert all(t["participant_id"] == pub.id for t in tracks.values())
        await eventually(lambda: all(s.decoded("video") >= 15 and s.decoded("audio") >= 15 for s in (s1, s2)),
                         timeout=40, interval=0.2, what="both subscribers decode audio and video")
        # each subscribe m-section names the publisher and the track, as the protocol says
        assert set(s1.msid.values()) == {(pub.id, t["track_id"]) for t in tracks.values()}
        assert pub.decoded("video") == 0                    # nobody sends the publisher anything
        assert edge.node.conference.counts()[3] == 4        # the heartbeat's streams: 2 tracks × 2 subscribers
        await pub.c.expect("peer_state", pc="publish", state="connected")
        await s1.c.expect("peer_state", pc="subscribe", state="connected")
        late = await joined_client(edge, tokens.sign(name="Late", perms=VIEWER))
        roster = {p["name"]: p for p in late.joined["roster"]}
        assert {t["track_id"] for t in roster["Pub"]["tracks"]} == {t["track_id"] for t in tracks.values()}

        # a moderator's mute stops forwarding the camera, and the publisher is told
        await s1.c.send({"type": "mute", "participant_id": pub.id, "source": "camera"})
        assert (await pub.c.expect("muted"))["by"] == s1.id
        room = edge.node.conference.meetings[MEETING].room
        camera = tracks["camera"]["track_id"]
        assert {t.track_id: t.muted for t in room.tracks()}[camera] is True
        await pub.c.send({"type": "mute", "source": "camera", "muted": False})
        await eventually(lambda: {t.track_id: t.muted for t in room.tracks()}[camera] is False, what="unmuted")
    finally:
        for c in (pub, s1, s2):
            await c.close()


async def test_resume_with_broken_media_renegotiates(edge: EdgeServer, tokens: TokenKit) -> None:
    pub = MediaClient(await joined_client(edge, tokens.sign(name="Pub")))
    sub = MediaClient(await joined_client(edge, tokens.sign(name="Sub", perms=VIEWER)))
    replacement: MediaClient | None = None
    try:
        await pub.publish()
        await eventually(lambda: sub.decoded("video") >= 5, timeout=40, interval=0.2, what="media flows")
        token, last = sub.c.joined["resume_token"], sub.c.last_seq
        sub.c.ws.transport.abort()                       # the network changed: socket and media are gone
        await sub.close()
        fresh = await Client.open(edge.ws_url())
        await fresh.send({"type": "join", "resume_token": token, "last_seq": last, "restart_media": True})
        resumed = await fresh.expect("resumed")
        assert resumed["media_restarted"] is True and resumed["participant_id"] == sub.id
        replacement = MediaClient(fresh)
        await eventually(lambda: replacement.decoded("video") >= 5 and replacement.decoded("audio") >= 5,
                         timeout=40, interval=0.2, what="media flows again on new peer connections")
        assert [p["name"] for p in (await joined_client(edge, tokens.sign(name="Probe"))).joined["roster"]] == \
            ["Pub", "Sub", "Probe"]
    finally:
        for c in (pub, replacement):
            if c is not None:
                await c.close()


async def test_a_late_joiner_decodes_the_video_of_everyone_already_publishing(
        edge: EdgeServer, tokens: TokenKit, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiortc.rtcrtpreceiver")
    a = MediaClient(await joined_client(edge, tokens.sign(name="A")))
    b = MediaClient(await joined_client(edge, tokens.sign(name="B")))
    late: MediaClient | None = None
    try:
        await a.publish()
        await b.publish()
        await eventually(lambda: a.decoded("video") >= 15 and b.decoded("video") >= 15, timeout=40, interval=0.2,
                         what="A and B decode each other's video")
        late = MediaClient(await joined_client(edge, tokens.sign(name="Late", perms=VIEWER)))

        def frames(kind: str) -> dict[str, int]:
            """publisher → frames of *kind* the late joiner decoded from it"""
            return {late.msid[mid][0]: n for mid, n in late.frames.items() if late.kinds[mid] == kind}

        await eventually(lambda: frames("video").keys() == {a.id, b.id} and min(frames("video").values()) >= 30,
                         timeout=40, interval=0.2, what="the late joiner decodes 30 frames of A's video and of B's")
        await eventually(lambda: frames("audio").keys() == {a.id, b.id} and min(frames("audio").values()) >= 30,
                         timeout=20, interval=0.2, what="the late joiner decodes A's audio and B's")
        assert sorted(late.kinds.values()) == ["audio", "audio", "video", "video"]
        assert [r.getMessage() for r in caplog.records if "decode" in r.getMessage()] == []
    finally:
        for c in (a, b, late):
            if c is not None:
                await c.close()
