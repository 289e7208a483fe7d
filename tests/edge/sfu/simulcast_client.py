"""A simulcast publisher built from aiortc parts, for a Room over real UDP.

aiortc cannot send simulcast, so this client does what a browser does with its own hands: its
offer is aiortc's, with the RTP stream id header extensions, ``a=rid`` lines and ``a=simulcast``
added (and no ``a=ssrc``, as browsers do for simulcast); after the answer, one real VP8 encoder
per layer encodes a moving pattern at that layer's size, and each layer's packets go out on the
publish PC's own DTLS transport (SRTP) under an SSRC of their own, carrying ``mid`` and ``rid``
header extensions. PLIs for a layer's SSRC make that layer's next frame a keyframe and are
counted per rid.
"""

from __future__ import annotations

import asyncio
import fractions
import random
import re

from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCSessionDescription
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, HeaderExtensionsMap, RtcpPsfbPacket, RtcpRtpfbPacket, RtpPacket
from av import VideoFrame

from edge.sfu.downtrack import ForwardedTrack
from edge.sfu.room import Room
from tests.edge.sfu.client import PatternTrack

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#: rid → (width, height, bits per second): small, so three encoders fit a loaded machine
LAYERS = {"q": (80, 60, 60_000), "h": (160, 120, 150_000), "f": (320, 240, 400_000)}
FPS = 15


def simulcast_offer(sdp: str, rids: list[str], *, rid_ext: bool = True, kind: str = "video",
                    simulcast_line: str | None = None) -> str:
    """*sdp* (an aiortc offer) with simulcast added to its first *kind* m-section."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    for i, section in enumerate(sections):
        if section.startswith(f"m={kind}"):
            lines = [line for line in section.split("\r\n") if not line.startswith(("a=ssrc", "a=ssrc-group"))]
            at = next(j for j, line in enumerate(lines) if line.startswith("a=mid:")) + 1
            extra = ([f"a=extmap:10 {RID_URI}", f"a=extmap:11 {REPAIRED_URI}"] if rid_ext else [])
            extra += [f"a=rid:{rid} send" for rid in rids]
            extra.append(simulcast_line or "a=simulcast:send " + ";".join(rids))
            sections[i] = "\r\n".join(lines[:at] + extra + lines[at:])
            break
    return "".join(sections)


class _LayerSender:
    """Receives the RTCP feedback (PLI) addressed to one layer's SSRC."""

    def __init__(self, rid: str) -> None:
        self.rid = rid
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(15)
        self.ts_offset = random.getrandbits(32)
        self.force_keyframe = True
        self.plis = 0
        self.nacks = 0
        self.encoder = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000))
        self.encoder.target_bitrate = LAYERS[rid][2]  # type: ignore[attr-defined]

    async def _handle_rtcp_packet(self, packet: object) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            self.plis += 1
            self.force_keyframe = True
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.nacks += 1


class SimulcastPublisher:
    """Publishes a camera in layers q (lowest), h and f to *room* as *participant_id* (and, with
    *screen*, a single-layer screen share that aiortc sends itself, on a second video m-section)."""

    def __init__(self, room: Room, participant_id: str, rids: tuple[str, ...] = ("q", "h", "f"),
                 screen: bool = False) -> None:
        self.room = room
        self.id = participant_id
        self.rids = rids
        self.pc = RTCPeerConnection()
        self.layers = {rid: _LayerSender(rid) for rid in rids}
        self.answer = ""
        self.sending = dict.fromkeys(rids, True)
        self.screen = screen
        self._task: asyncio.Task[None] | None = None

    async def publish(self) -> str:
        pc = self.pc
        transceiver = pc.addTransceiver(ForwardedTrack("video"), direction="sendonly")
        sources = {"0": "camera"}
        if self.screen:
            pc.addTransceiver(PatternTrack(), direction="sendonly")
            sources["1"] = "screen"
        await pc.setLocalDescription(await pc.createOffer())
        offer = simulcast_offer(pc.localDescription.sdp, list(self.rids))
        self.answer = await self.room.publisher_offer(self.id, offer, sources)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=self.answer, type="answer"))
        self._task = asyncio.ensure_future(self._send(transceiver))
        return self.answer

    async def _send(self, transceiver) -> None:
        dtls = transceiver.sender.transport
        while dtls.state != "connected":
            await asyncio.sleep(0.02)
        ids = {uri: int(i) for i, uri in re.findall(r"a=extmap:(\d+) (\S+)", self.answer)}
        extensions = HeaderExtensionsMap()
        extensions.configure(RTCRtpParameters(headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=ids["urn:ietf:params:rtp-hdrext:sdes:mid"],
                                            uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(id=ids[RID_URI], uri=RID_URI)]))
        payload_type = int(re.search(r"a=rtpmap:(\d+) VP8/90000", self.answer).group(1))  # type: ignore[union-attr]
        for layer in self.layers.values():
            dtls._rtp_router.register_sender(layer, layer.ssrc)  # PLIs for its SSRC reach it
        n = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            for rid, layer in self.layers.items():
                if self.sending[rid]:
                    await self._send_frame(dtls, layer, n, payload_type, transceiver.mid, extensions)
            n += 1
            await asyncio.sleep(max(0.0, start + n / FPS - loop.time()))

    async def _send_frame(self, dtls, layer: _LayerSender, n: int, payload_type: int, mid: str,
                          extensions: HeaderExtensionsMap) -> None:
        width, height, _ = LAYERS[layer.rid]
        frame = VideoFrame(width=width, height=height)
        y = bytearray(b"\x50" * (width * height))
        top = (n * 2) % (height - 8)
        y[top * width:(top + 8) * width] = b"\xe0" * (8 * width)
        frame.planes[0].update(bytes(y))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts, frame.time_base = n * 6000, fractions.Fraction(1, 90000)
        force, layer.force_keyframe = layer.force_keyframe, False
        payloads, timestamp = layer.encoder.encode(frame, force)
        for i, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=payload_type, sequence_number=layer.seq,
                               timestamp=(timestamp + layer.ts_offset) & 0xFFFFFFFF, ssrc=layer.ssrc,
                               marker=int(i == len(payloads) - 1), payload=payload)
            packet.extensions.mid = mid
            packet.extensions.rtp_stream_id = layer.rid
            layer.seq = (layer.seq + 1) & 0xFFFF
            await dtls._send_rtp(packet.serialize(extensions))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.pc.close()
