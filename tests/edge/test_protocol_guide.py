"""What ``docs/protocol.md`` tells a client author, checked against the real edge (uvicorn, a real
nats-server) with offers built by aiortc: the offer requirements, free-form ``mid`` values, the
empty ``field`` and null ``re`` of an error about nothing in particular, the type of ``pong.t``
and the codec names in ``track_published``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

from tests.edge.edge_support import MEETING, VIEWER, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


def prefer(transceiver, codec: str) -> None:  # noqa: ANN001
    """Offer *codec* first on *transceiver* (the edge takes the client's first codec it supports)."""
    caps = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    transceiver.setCodecPreferences([c for c in caps if c.name == codec] + [c for c in caps if c.name != codec])


async def make_offer(audio: str | None = "opus", video: str | None = "VP8",
                     data_channel: bool = False) -> tuple[RTCPeerConnection, str]:
    """An aiortc publish PC and its offer: one sendonly transceiver per kind given, its codec first."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if audio:
        prefer(pc.addTransceiver(AudioStreamTrack(), direction="sendonly"), audio)
    if video:
        prefer(pc.addTransceiver(VideoStreamTrack(), direction="sendonly"), video)
    if data_channel:
        pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def sources_of(pc: RTCPeerConnection) -> dict[str, str]:
    return {t.mid: "microphone" if t.kind == "audio" else "camera" for t in pc.getTransceivers()}


def rename_mids(sdp: str, names: dict[str, str]) -> str:
    """*sdp* with each ``a=mid`` (and the BUNDLE group) renamed by *names*."""
    sdp = re.sub(r"a=mid:(\S+)", lambda m: f"a=mid:{names.get(m[1], m[1])}", sdp)
    return re.sub(r"a=group:BUNDLE ([^\r\n]+)",
                  lambda m: "a=group:BUNDLE " + " ".join(names.get(x, x) for x in m[1].split()), sdp)


def mids(sdp: str) -> list[str]:
    return re.findall(r"a=mid:(\S+)", sdp)


async def tracks_published(c: Client, n: int) -> list[dict]:
    return [(await c.expect("track_published", timeout=10))["track"] for _ in range(n)]


# -- what is refused: the offer requirements -------------------------------------------------------
def _no_bundle(sdp: str) -> str:
    return re.sub(r"a=group:BUNDLE[^\r\n]*\r\n", "", sdp)


def _no_rtcp_mux(sdp: str) -> str:
    return sdp.replace("a=rtcp-mux\r\n", "")


def _vp9_only(sdp: str) -> str:
    video = sdp.index("m=video")
    return sdp[:video] + sdp[video:].replace("VP8/90000", "VP9/90000").replace("H264/90000", "AV1/90000")


def _no_mid(sdp: str) -> str:
    return re.sub(r"a=mid:1\r\n", "", sdp).replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")


def _no_ice(sdp: str) -> str:
    return re.sub(r"a=ice-(ufrag|pwd):[^\r\n]*\r\n", "", sdp)


def _no_fingerprint(sdp: str) -> str:
    return re.sub(r"a=fingerprint:[^\r\n]*\r\n", "", sdp)


def _h264_mode0(sdp: str) -> str:
    video = sdp.index("m=video")
    return sdp[:video] + sdp[video:].replace("VP8/90000", "VP9/90000").replace("packetization-mode=1",
                                                                              "packetization-mode=0")


@pytest.mark.parametrize("spoil, data_channel, says", [
    (_no_bundle, False, "a=group:BUNDLE"),
    (_no_rtcp_mux, False, "a=rtcp-mux"),
    (_vp9_only, False, "the edge forwards H264, VP8"),
    (_h264_mode0, False, "no usable video codec"),
    (_no_mid, False, "has no a=mid"),
    (_no_ice, False, "no ICE credentials"),
    (_no_fingerprint, False, "no DTLS fingerprint"),
    (None, True, "'application': the edge carries audio and video only"),
], ids=["bundle", "rtcp-mux", "codecs", "h264-mode-0", "mid", "ice", "fingerprint", "data-channel"])
async def test_an_offer_that_breaks_a_requirement_is_refused_naming_it(
        edge: EdgeServer, tokens: TokenKit, spoil, data_channel: bool, says: str) -> None:  # noqa: ANN001
    c = await joined_client(edge, tokens.sign())
    pc, sdp = await make_offer(data_channel=data_channel)
    try:
        sdp = spoil(sdp) if spoil else sdp
        await c.send({"type": "offer", "id": "o1", "pc": "publish", "sdp": sdp, "sources": sources_of(pc)})
        err = await c.error("bad_sdp")
        assert err["field"] == "sdp" and err["re"] == "o1" and says in err["message"], err
        assert edge.node.conference.meetings[MEETING].room.tracks() == []       # nothing changed
        assert not [m for m in c.seen if m["type"] in ("answer", "track_published")]
    finally:
        await pc.close()
        await c.close()


async def test_ice_credentials_and_fingerprint_at_session_level_are_accepted(edge: EdgeServer,
                                                                             tokens: TokenKit) -> None:
    c = await joined_client(edge, tokens.sign())
    pc, sdp = await make_offer()
    try:
        moved = sorted(set(re.findall(r"a=(?:ice-ufrag|ice-pwd|fingerprint):[^\r\n]*\r\n", sdp)))
        for line in moved:
            sdp = sdp.replace(line, "")
        sdp = sdp.replace("t=0 0\r\n", "t=0 0\r\n" + "".join(moved), 1)
        assert sdp.index("a=ice-ufrag") < sdp.index("m=audio")
        await c.send({"type": "offer", "id": "s", "pc": "publish", "sdp": sdp, "sources": sources_of(pc)})
        await c.expect("answer", re="s", timeout=15)
        assert len(await tracks_published(c, 2)) == 2
    finally:
        await pc.close()
        await c.close()


# -- mids are the client's own strings -------------------------------------------------------------
async def test_mids_are_free_form_strings_kept_by_the_edge(edge: EdgeServer, tokens: TokenKit) -> None:
    pub = await joined_client(edge, tokens.sign(name="Pub"))
    sub = await joined_client(edge, tokens.sign(name="Sub", perms=VIEWER))
    pc, sdp = await make_offer()
    names = {"0": "audio-main", "1": "cam.front_1"}
    back = {v: k for k, v in names.items()}
    sub_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames = {"video": 0}

    async def count(track) -> None:  # noqa: ANN001
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                frames[track.kind] = frames.get(track.kind, 0) + 1

    readers: list[asyncio.Task] = []
    try:
        await pub.send({"type": "offer", "id": "p", "pc": "publish", "sdp": rename_mids(sdp, names),
                        "sources": {"audio-main": "microphone", "cam.front_1": "camera"}})
        answer = await pub.expect("answer", re="p", timeout=15)
        assert mids(answer["sdp"]) == ["audio-main", "cam.front_1"]     # the answer keeps the client's mids
        await pc.setRemoteDescription(RTCSessionDescription(sdp=rename_mids(answer["sdp"], back), type="answer"))
        assert {t["source"] for t in await tracks_published(sub, 2)} == {"microphone", "camera"}

        # the subscribe PC's mids are the edge's: opaque strings the answer must repeat
        offer = await sub.expect("offer", pc="subscribe", timeout=10)
        sub_pc.on("track", lambda track: readers.append(asyncio.get_running_loop().create_task(count(track))))
        await sub_pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await sub_pc.setLocalDescription(await sub_pc.createAnswer())
        assert mids(sub_pc.localDescription.sdp) == mids(offer["sdp"])
        await sub.send({"type": "answer", "pc": "subscribe", "sdp": sub_pc.localDescription.sdp})
        await eventually(lambda: frames["video"] >= 10, timeout=30, interval=0.2,
                         what="video published under free-form mids is decoded by a subscriber")

        # sources naming a mid the offer does not have is refused, naming sources
        await pub.send({"type": "offer", "id": "p2", "pc": "publish", "sdp": rename_mids(sdp, names),
                        "sources": {"0": "microphone", "cam.front_1": "camera"}})
        err = await pub.error("invalid")
        assert err["field"] == "sources" and err["re"] == "p2" and "'0'" in err["message"], err
    finally:
        for task in readers:
            task.cancel()
        await pc.close()
        await sub_pc.close()
        await pub.close()
        await sub.close()


# -- error.field and re when nothing applies; pong.t -------------------------------------------------
async def test_an_error_about_no_field_and_no_request_has_field_empty_and_re_null(edge: EdgeServer) -> None:
    c = await Client.open(edge.ws_url())
    try:
        await c.send("{not json")
        err = await c.error("bad_json")
        assert err["field"] == "" and "re" in err and err["re"] is None and err["seq"] == 0, err
        await c.send(json.dumps([1, 2]))                      # JSON, but no object: no id to echo
        err = await c.error("invalid")
        assert err["re"] is None and err["field"] == "", err
        await c.send({"type": "chat", "id": 7, "text": "hi"})   # about a request: re is its id
        err = await c.error("not_joined")
        assert err["re"] == 7 and err["field"] == "type", err
    finally:
        await c.close()


async def test_pong_t_is_a_number_but_not_necessarily_of_the_same_type(edge: EdgeServer) -> None:
    c = await Client.open(edge.ws_url())
    try:
        raw: list[str] = []
        for i, t in enumerate((5, 1.25, 1733480000123)):
            await c.send({"type": "ping", "id": i, "t": t})
            pong = await c.expect("pong", re=i)
            assert pong["t"] == t and isinstance(pong["t"], float), pong     # 5 comes back as 5.0
            raw.append(pong)
        await c.send({"type": "ping", "id": "n"})
        assert (await c.expect("pong", re="n"))["t"] == 0.0                  # no t: 0.0
        await c.send({"type": "ping", "id": "s", "t": "now"})
        err = await c.error("invalid")
        assert err["field"] == "t" and err["re"] == "s", err
    finally:
        await c.close()


# -- track_published.codec ------------------------------------------------------------------------
@pytest.mark.parametrize("audio, video", [("opus", "VP8"), ("PCMU", "H264"), ("G722", None), ("PCMA", None)])
async def test_track_published_names_the_codec_as_sdp_does(edge: EdgeServer, tokens: TokenKit,
                                                           audio: str, video: str | None) -> None:
    c = await joined_client(edge, tokens.sign())
    pc, sdp = await make_offer(audio, video)
    try:
        await c.send({"type": "offer", "id": "p", "pc": "publish", "sdp": sdp, "sources": sources_of(pc)})
        await c.expect("answer", re="p", timeout=15)
        got = {t["kind"]: t["codec"] for t in await tracks_published(c, 2 if video else 1)}
        assert got == {"audio": audio, **({"video": video} if video else {})}
    finally:
        await pc.close()
        await c.close()
