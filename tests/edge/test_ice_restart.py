"""ICE restart in place (``docs/protocol.md``, Restarting ICE), over ``/ws`` against the real edge
with aiortc clients on real UDP. The clients restart their own side with the same hooks the edge
uses (aiortc itself ignores new ICE credentials): a browser does it with ``pc.restartIce()``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from edge.sfu import aiortc_hooks as hooks
from tests.edge.edge_support import MEETING, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


def ice_of(sdp: str) -> tuple[str, str]:
    return re.search(r"a=ice-ufrag:(\S+)", sdp)[1], re.search(r"a=ice-pwd:(\S+)", sdp)[1]


def fingerprint_of(sdp: str) -> str:
    return re.search(r"a=fingerprint:sha-256 (\S+)", sdp)[1]


def dtls_of(pc: RTCPeerConnection) -> Any:
    return pc.getTransceivers()[0].receiver.transport


def cut_path(pc: RTCPeerConnection) -> tuple[tuple[str, int], tuple[str, int]]:
    """The network change: the client's socket on its selected pair goes deaf and mute (its other
    sockets — another address family — still work). Returns the pair that died."""
    pair = dtls_of(pc).transport._connection._nominated[1]   # test-only: aioice's selected pair
    pair.protocol.datagram_received = lambda data, addr: None
    pair.protocol.transport.sendto = lambda data, addr=None: None
    return pair.local_addr, pair.remote_addr


class RestartingClient:
    """Publishes and subscribes like a browser, and restarts ICE on both PCs like one."""

    def __init__(self, c: Client) -> None:
        self.c = c
        self.publish_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.subscribe_pc: RTCPeerConnection | None = None
        self.frames: dict[str, int] = {}           # track id → video frames decoded
        self.sub_ice: tuple[str, str] | None = None
        self.restarted: dict[str, bool] = {}        # pc → the client side's checks succeeded
        self.tasks = [asyncio.get_running_loop().create_task(self._answer_offers())]

    async def publish(self) -> str:
        pc = self.publish_pc
        if not pc.getTransceivers():
            pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
            pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.c.send({"type": "offer", "id": "pub", "pc": "publish", "sdp": pc.localDescription.sdp,
                           "sources": {"0": "microphone", "1": "camera"}})
        answer = await self.c.expect("answer", re="pub", timeout=15)
        if "publish" in self.restarted:
            hooks.start_ice_checks(dtls_of(pc), *ice_of(answer["sdp"]), on_done=self._done("publish"))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return answer["sdp"]

    async def restart_publish(self) -> str:
        """What ``pc.restartIce()`` and the renegotiation after it do."""
        self.restarted["publish"] = False
        hooks.begin_ice_restart(dtls_of(self.publish_pc))
        return await self.publish()

    def _done(self, pc: str):  # noqa: ANN202
        def done(ok: bool) -> None:
            self.restarted[pc] = ok
        return done

    async def _answer_offers(self) -> None:
        with contextlib.suppress(AssertionError):
            while True:
                offer = await self.c.expect("offer", pc="subscribe", timeout=3600)
                if self.subscribe_pc is None:
                    self.subscribe_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                    self.subscribe_pc.on("track", self._on_track)
                pc, ice = self.subscribe_pc, ice_of(offer["sdp"])
                if self.sub_ice is not None and ice != self.sub_ice:   # the edge restarts ICE
                    self.restarted["subscribe"] = False
                    hooks.begin_ice_restart(dtls_of(pc))
                    hooks.start_ice_checks(dtls_of(pc), *ice, on_done=self._done("subscribe"))
                self.sub_ice = ice
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.c.send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})

    def _on_track(self, track) -> None:  # noqa: ANN001
        if track.kind == "video":
            self.frames[track.id] = 0
            self.tasks.append(asyncio.get_running_loop().create_task(self._count(track)))

    async def _count(self, track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[track.id] += 1

    def video(self) -> int:
        return sum(self.frames.values())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        await self.c.close()


async def test_a_client_on_a_new_path_restarts_ice_in_place(edge: EdgeServer, tokens: TokenKit,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.sfu")
    ann = RestartingClient(await joined_client(edge, tokens.sign(name="Ann")))
    bob = RestartingClient(await joined_client(edge, tokens.sign(name="Bob")))
    try:
        first = await ann.publish()
        await bob.publish()
        await eventually(lambda: ann.video() >= 10 and bob.video() >= 10, timeout=30, interval=0.2,
                         what="each decodes the other's video")
        room = edge.node.conference.meetings[MEETING].room
        peer = room.peers[ann.c.joined["participant_id"]]
        edge_pub, edge_sub = dtls_of(peer.publish_pc), dtls_of(peer.subscriber.pc)
        tracks = {t.track_id for t in room.tracks()}
        before = {"publish": hooks.selected_pair(edge_pub), "subscribe": hooks.selected_pair(edge_sub)}
        sent_before = peer.egress.sent_packets
        seen_before = {c: len(c.c.seen) for c in (ann, bob)}

        # Ann's network changes: both her paths die; she restarts ICE on the publish PC
        dead = {"publish": cut_path(ann.publish_pc), "subscribe": cut_path(ann.subscribe_pc)}
        answer = await ann.restart_publish()
        assert ice_of(answer) != ice_of(first) and fingerprint_of(answer) == fingerprint_of(first)
        assert hooks.ice_credentials(edge_pub)[2:] == ice_of(ann.publish_pc.localDescription.sdp)
        await eventually(lambda: ann.restarted == {"publish": True, "subscribe": True}, timeout=20,
                         what="both of Ann's connections restarted (the edge offered new subscribe credentials)")

        async def flowing(who: RestartingClient) -> bool:
            n = who.video()
            await eventually(lambda: who.video() >= n + 10, timeout=20, interval=0.2, what="video again")
            return True
        await flowing(bob)   # Ann's camera reaches Bob over her new publish path
        await flowing(ann)   # Bob's camera reaches Ann over her new subscribe path
        after = {"publish": hooks.selected_pair(edge_pub), "subscribe": hooks.selected_pair(edge_sub)}
        for pc in ("publish", "subscribe"):
            assert after[pc] != before[pc] and after[pc][1] != dead[pc][0], (pc, before, after, dead)
        assert peer.egress.sent_packets > sent_before and peer.egress._addr == after["subscribe"][1]

        # in place: the same connections, DTLS sessions, tracks; nobody saw anything change
        assert dtls_of(peer.publish_pc) is edge_pub and edge_pub.state == edge_sub.state == "connected"
        assert {t.track_id for t in room.tracks()} == tracks
        for c in (ann, bob):
            since = [m["type"] for m in c.c.seen[seen_before[c]:]]
            assert not {"track_published", "track_unpublished", "participant_left", "peer_state"} & set(since), since
        assert "ICE restart of" in caplog.text and "subscribe connection completed" in caplog.text
    finally:
        for c in (ann, bob):
            await c.close()


async def test_an_offer_restarting_ice_before_the_connection_is_up_is_refused(edge: EdgeServer,
                                                                              tokens: TokenKit) -> None:
    """Nothing to keep yet: the client is told to restart its media (resume with restart_media)."""
    c = await joined_client(edge, tokens.sign())
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await c.send({"type": "offer", "id": "a", "pc": "publish", "sdp": sdp,
                      "sources": {"0": "microphone", "1": "camera"}})
        await c.expect("answer", re="a", timeout=15)      # the client never applies it: no connection
        ufrag, pwd = ice_of(sdp)
        restarted = sdp.replace(ufrag, "zzzz").replace(pwd, "x" * 22)
        await c.send({"type": "offer", "id": "b", "pc": "publish", "sdp": restarted,
                      "sources": {"0": "microphone", "1": "camera"}})
        err = await c.error("bad_sdp")
        assert err["field"] == "sdp" and err["re"] == "b" and "restart_media" in err["message"], err
        peer = edge.node.conference.meetings[MEETING].room.peers[c.joined["participant_id"]]
        assert hooks.ice_credentials(dtls_of(peer.publish_pc))[2:] == (ufrag, pwd)   # nothing changed
    finally:
        await pc.close()
        await c.close()
