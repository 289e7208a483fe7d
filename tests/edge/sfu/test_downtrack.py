"""RTP rewriting and the subscriber queue, packet by packet: a TrackSource fans out to DownTracks
whose Egress SRTP-protects with a real libsrtp session and sends over a real UDP socket; the test
unprotects and parses what arrives."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from edge.sfu.aiortc_hooks import SendPath
from edge.sfu.downtrack import DownTrack
from edge.sfu.egress import Egress
from edge.sfu.forwarder import TrackSource
from edge.sfu.interfaces import TrackInfo
from tests.support.util import eventually

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
KEY = b"\x90\x80\x01\x00"  # VP8 descriptor: X, S, I with 7-bit picture id 1; payload header P = 0
DELTA = b"\x90\x80\x02\x01"  # … P = 1: an interframe
MIDDLE = b"\x80\x80\x02\x01"  # … S = 0: not the start of a frame


class Origin:
    """A stand-in publisher that counts the keyframe requests reaching it."""

    def __init__(self) -> None:
        self.requests = 0

    def request_keyframe(self) -> None:
        self.requests += 1


class Subscriber:
    """A UDP socket with the receiving half of an SRTP session."""

    def __init__(self) -> None:
        self.key = os.urandom(30)
        tx = Policy(key=self.key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)
        tx.allow_repeat_tx = True  # as aiortc sets it: retransmissions reuse their index
        self.tx = Session(tx)
        self.forget_received()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.ext = HeaderExtensionsMap()
        self.ext.configure(RTCRtpParameters(headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")]))
        self.packets: list[RtpPacket] = []

    def forget_received(self) -> None:
        """A fresh SRTP receive context (its replay list would refuse a packet received before)."""
        self.rx = Session(Policy(key=self.key, ssrc_type=Policy.SSRC_ANY_INBOUND))

    async def path(self) -> SendPath:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
        self.transport = transport
        return SendPath(protect=self.tx.protect, sendto=transport.sendto, addr=self.sock.getsockname(),
                        backlog=transport.get_write_buffer_size)

    def read(self) -> list[RtpPacket]:
        while True:
            try:
                data = self.sock.recv(2048)
            except BlockingIOError:
                return self.packets
            self.packets.append(RtpPacket.parse(self.rx.unprotect(data), self.ext))

    def close(self) -> None:
        self.sock.close()
        self.transport.close()


@pytest.fixture
async def sub():
    s = Subscriber()
    yield s
    s.close()


def source(codec=VP8, kind="video") -> tuple[TrackSource, Origin]:
    src = TrackSource(TrackInfo("TR_1", "alice", kind, "camera" if kind == "video" else "microphone", codec.name),
                      codec, keyframe_min_interval=0.0)
    origin = Origin()
    src.attach(origin)
    return src, origin


async def downtrack(src: TrackSource, sub: Subscriber, limit: int = 64, ssrc: int = 1234) -> DownTrack:
    egress = Egress(limit)
    egress.open(await sub.path())
    dt = DownTrack(src, egress)
    dt.configure(ssrc=ssrc, payload_type=100 if src.kind == "video" else 101, mid="3", mid_ext=1,
                 level_ext=2 if src.kind == "audio" else None)
    egress.downtracks.append(dt)
    src.add(dt)
    return dt


async def received(sub: Subscriber, n: int) -> list[RtpPacket]:
    await eventually(lambda: len(sub.read()) >= n, timeout=2, what=f"{n} packets")
    return sub.packets


async def test_headers_are_rewritten_and_extensions_carry_mid_and_level(sub: Subscriber) -> None:
    src, _ = source(OPUS, "audio")
    await downtrack(src, sub)
    for i in range(3):
        src.push(seq=500 + i, ts=9600 + 960 * i, marker=0, payload=b"opus%d" % i, level=(0x80 | 30) if i else -1)
    packets = await received(sub, 3)
    assert [(p.ssrc, p.payload_type, p.payload) for p in packets] == [(1234, 101, b"opus0"), (1234, 101, b"opus1"),
                                                                       (1234, 101, b"opus2")]
    assert [(p.sequence_number - packets[0].sequence_number) % 65536 for p in packets] == [0, 1, 2]
    assert [(p.timestamp - packets[0].timestamp) % 2**32 for p in packets] == [0, 960, 1920]
    assert [p.extensions.mid for p in packets] == ["3", "3", "3"]
    assert [p.extensions.audio_level for p in packets] == [None, (True, 30), (True, 30)]


async def test_video_is_held_until_a_keyframe_and_one_is_requested(sub: Subscriber) -> None:
    src, origin = source()
    dt = await downtrack(src, sub)
    assert origin.requests == 1  # the new subscriber asked for a keyframe at once
    src.push(seq=10, ts=3000, marker=1, payload=DELTA, level=-1)
    src.push(seq=11, ts=6000, marker=0, payload=KEY, level=-1)
    src.push(seq=12, ts=6000, marker=1, payload=MIDDLE, level=-1)
    packets = await received(sub, 2)
    assert [p.payload for p in packets] == [KEY, MIDDLE]
    assert dt.held == 1 and origin.requests == 2


async def test_sequence_and_timestamp_continue_across_a_source_change_and_a_wrap(sub: Subscriber) -> None:
    src, _ = source(OPUS, "audio")
    await downtrack(src, sub)
    for i in range(3):  # the first origin wraps its sequence numbers
        src.push(seq=65534 + i & 0xFFFF, ts=2**32 - 960 + 960 * i & 0xFFFFFFFF, marker=0, payload=b"a", level=-1)
    await received(sub, 3)
    src.attach(Origin())  # the publisher came back: unrelated numbers
    await asyncio.sleep(0.1)
    for i in range(3):
        src.push(seq=7 + i, ts=123456 + 960 * i, marker=0, payload=b"b", level=-1)
    packets = await received(sub, 6)
    seqs = [p.sequence_number for p in packets]
    assert [(b - a) % 65536 for a, b in zip(seqs, seqs[1:])] == [1] * 5
    steps = [(b.timestamp - a.timestamp) % 2**32 for a, b in zip(packets, packets[1:])]
    assert steps[:2] == [960, 960] and steps[3:] == [960, 960]
    assert 0.08 * 48000 <= steps[2] <= 1.0 * 48000  # the switch advances by the time that passed
    assert len({p.ssrc for p in packets}) == 1


async def test_late_packets_are_forwarded_unless_from_before_the_keyframe(sub: Subscriber) -> None:
    src, _ = source()
    await downtrack(src, sub)
    src.push(seq=100, ts=9000, marker=0, payload=KEY, level=-1)
    src.push(seq=102, ts=9000, marker=1, payload=MIDDLE, level=-1)
    src.push(seq=101, ts=9000, marker=0, payload=MIDDLE + b"late", level=-1)  # reordered upstream
    src.push(seq=99, ts=6000, marker=1, payload=DELTA, level=-1)  # from before the keyframe
    packets = await received(sub, 3)
    await asyncio.sleep(0.05)
    assert len(sub.read()) == 3
    base = packets[0].sequence_number
    assert [((p.sequence_number - base) % 65536, p.payload) for p in packets] == [
        (0, KEY), (2, MIDDLE), (1, MIDDLE + b"late")]


async def test_nacked_packets_are_retransmitted_from_history(sub: Subscriber) -> None:
    src, _ = source()
    dt = await downtrack(src, sub)
    for i in range(5):
        src.push(seq=i, ts=3000, marker=int(i == 4), payload=KEY if i == 0 else MIDDLE + bytes([i]), level=-1)
    packets = await received(sub, 5)
    lost = [packets[1].sequence_number, packets[3].sequence_number, (packets[0].sequence_number - 1000) % 65536]
    sub.forget_received()  # (a real subscriber NACKs what it never received)
    dt.on_nack(lost)
    again = (await received(sub, 7))[5:]
    assert [(p.sequence_number, p.payload) for p in again] == [(packets[1].sequence_number, packets[1].payload),
                                                               (packets[3].sequence_number, packets[3].payload)]
    assert dt.retransmitted == 2


async def test_a_full_queue_drops_the_oldest_and_video_resumes_at_a_keyframe(sub: Subscriber) -> None:
    src, origin = source()
    dt = await downtrack(src, sub, limit=4)
    dt.egress.set_rate(8000)  # 1000 bytes/s: one burst of 1500 bytes, then about a packet a second
    frame = b"\x00" * 600
    src.push(seq=0, ts=0, marker=1, payload=KEY + frame, level=-1)
    for i in range(1, 12):  # much more than the cap lets through
        src.push(seq=i, ts=3000 * i, marker=1, payload=DELTA + frame, level=-1)
    e = dt.egress
    assert e.max_depth == 4 and len(e.queue) == 4 and e.dropped >= 1  # bounded: the oldest went
    assert e.sent_packets + e.dropped + len(e.queue) == 12
    assert dt.waiting_key and origin.requests >= 2
    src.push(seq=12, ts=36000, marker=1, payload=KEY + frame, level=-1)
    dt.egress.set_rate(None)
    src.push(seq=13, ts=39000, marker=1, payload=DELTA + frame, level=-1)
    packets = await received(sub, 4)
    await asyncio.sleep(0.05)
    packets = sub.read()
    # what arrived: whole frames in one gap-free sequence — the held deltas were never sent
    assert [p.payload[:4] for p in packets][-2:] == [KEY, DELTA]
    seqs = [p.sequence_number for p in packets]
    assert [(b - a) % 65536 for a, b in zip(seqs, seqs[1:])] == [1] * (len(seqs) - 1)
    assert e.sent_packets == len(packets)


async def test_padding_goes_between_frames_and_the_media_after_it_follows_on(sub: Subscriber) -> None:
    src, _ = source()
    dt = await downtrack(src, sub)
    sizes: list[int] = []
    dt.use_stamp(lambda ext, size: sizes.append(size) or ext)  # what a transport-wide stamp is told
    assert dt.padding(100, now=0.0) is None  # nothing sent yet: no stream to pad
    src.push(seq=100, ts=9000, marker=0, payload=KEY, level=-1)
    assert dt.padding(100, now=0.0) is None  # inside a frame: a receiver would lose the frame
    src.push(seq=102, ts=9000, marker=1, payload=MIDDLE, level=-1)
    data = dt.padding(300, now=0.0)  # at most 255 bytes of padding in one packet
    assert data is not None
    dt.egress.send_now(data, padding=True)
    src.push(seq=103, ts=12000, marker=1, payload=DELTA, level=-1)
    src.push(seq=101, ts=9000, marker=0, payload=MIDDLE + b"late", level=-1)  # its number went to the padding
    src.push(seq=104, ts=15000, marker=1, payload=DELTA + b"next", level=-1)  # sent after the late one would be
    packets = await received(sub, 5)
    base = packets[0].sequence_number
    assert [((p.sequence_number - base) % 65536, p.payload, p.padding_size) for p in packets] == [
        (0, KEY, 0), (2, MIDDLE, 0), (3, b"", 255), (4, DELTA, 0), (5, DELTA + b"next", 0)]
    assert packets[2].timestamp == packets[1].timestamp and packets[2].ssrc == 1234
    assert sizes == [len(KEY), len(MIDDLE), 255, len(DELTA), len(DELTA) + 4]
    assert dt.egress.padding_packets == 1 and dt.egress.sent_packets == 4 and dt.packets == 4  # not media
