"""Depacketizers (recorder.depacketize): VP8 (RFC 7741), H.264 (RFC 6184), Opus (RFC 7587).

Also holds the senders' side used by the end-to-end tests: RTP packetizers written from the RFCs.
"""

from __future__ import annotations

import random

import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtpPacket

from recorder.depacketize import (
    Depacketizer,
    EncodedFrame,
    H264Depacketizer,
    OpusDepacketizer,
    Vp8Depacketizer,
    depacketizer_for,
    h264_begins_access_unit,
)

Rtp = tuple[int, int, bool, bytes]   # sequence number, timestamp, marker, payload
MTU = 1100


# -- the sender's side ---------------------------------------------------------------------------
def vp8_descriptor(start: bool, picture_id: int | None = None, long_id: bool = True, tl0picidx: int | None = None,
                   tid: int | None = None, keyidx: int | None = None) -> bytes:
    """RFC 7741 §4.2, partition 0."""
    ext, tail = 0, b""
    if picture_id is not None:
        ext |= 0x80
        tail += bytes([0x80 | picture_id >> 8 & 0x7F, picture_id & 0xFF]) if long_id else bytes([picture_id & 0x7F])
    if tl0picidx is not None:
        ext, tail = ext | 0x40, tail + bytes([tl0picidx])
    if tid is not None or keyidx is not None:
        ext |= (0x20 if tid is not None else 0) | (0x10 if keyidx is not None else 0)
        tail += bytes([(tid or 0) << 6 | (keyidx or 0) & 0x1F])
    first = (0x80 if ext else 0) | (0x10 if start else 0)
    return bytes([first]) + (bytes([ext]) + tail if ext else b"")


def vp8_payloads(frame: bytes, **descriptor: int | bool | None) -> list[bytes]:
    chunks = [frame[i:i + MTU] for i in range(0, len(frame), MTU)]
    return [vp8_descriptor(i == 0, **descriptor) + chunk for i, chunk in enumerate(chunks)]  # type: ignore[arg-type]


def annexb_nals(access_unit: bytes) -> list[bytes]:
    return [nal.rstrip(b"\x00") for nal in access_unit.split(b"\x00\x00\x01") if nal.rstrip(b"\x00")]


def h264_payloads(access_unit: bytes) -> list[bytes]:
    """RFC 6184 §5.7.1 STAP-A for runs of small NAL units (SPS+PPS), §5.8 FU-A above the MTU."""
    out: list[bytes] = []
    small: list[bytes] = []

    def flush() -> None:
        if len(small) == 1:
            out.append(small[0])
        elif small:
            header = max(n[0] & 0x60 for n in small) | 24
            out.append(bytes([header]) + b"".join(len(n).to_bytes(2, "big") + n for n in small))
        small.clear()

    for nal in annexb_nals(access_unit):
        if len(nal) > MTU:
            flush()
            body = nal[1:]
            pieces = [body[i:i + MTU] for i in range(0, len(body), MTU)]
            for i, piece in enumerate(pieces):
                se = (0x80 if i == 0 else 0) | (0x40 if i == len(pieces) - 1 else 0)
                out.append(bytes([nal[0] & 0xE0 | 28, se | nal[0] & 0x1F]) + piece)
        else:
            if sum(2 + len(n) for n in small) + 3 + len(nal) > MTU:
                flush()
            small.append(nal)
    flush()
    return out


def rtp_stream(frames: list[tuple[int, list[bytes]]], first_seq: int = 0) -> list[Rtp]:
    """(timestamp, payloads) per frame → packets with consecutive sequence numbers, marker on the last."""
    out: list[Rtp] = []
    seq = first_seq
    for ts, payloads in frames:
        for i, payload in enumerate(payloads):
            out.append((seq & 0xFFFF, ts & 0xFFFFFFFF, i == len(payloads) - 1, payload))
            seq += 1
    return out


def feed(depacketizer: Depacketizer, packets: list[Rtp]) -> list[EncodedFrame]:
    return [frame for packet in packets for frame in depacketizer.push(*packet)]


# -- synthetic frames ----------------------------------------------------------------------------
def vp8_key(size: int = 2500, seed: int = 0) -> bytes:
    """A VP8 key frame header (RFC 6386 §9.1: P=0, start code, 320×240) and filler."""
    return b"\x50\x02\x00\x9d\x01\x2a" + (320).to_bytes(2, "little") + (240).to_bytes(2, "little") + \
        random.Random(seed).randbytes(size - 10)


def vp8_inter(size: int = 1500, seed: int = 1) -> bytes:
    return b"\x31" + random.Random(seed).randbytes(size - 1)


SPS = b"\x67\x42\xc0\x0c\xda\x05\x07\xe8\x40"
PPS = b"\x68\xce\x0f\xc8"


def h264_au(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def idr(size: int = 3000, seed: int = 2) -> bytes:
    return b"\x65\x88" + random.Random(seed).randbytes(size - 2).replace(b"\x00", b"\x01")


def non_idr(size: int = 700, seed: int = 3) -> bytes:
    return b"\x41\x9a" + random.Random(seed).randbytes(size - 2).replace(b"\x00", b"\x01")


# -- VP8 -----------------------------------------------------------------------------------------
DESCRIPTORS = [{}, {"picture_id": 100, "long_id": False}, {"picture_id": 20000}, {"picture_id": 5, "tl0picidx": 7},
               {"picture_id": 300, "tid": 1}, {"keyidx": 3}, {"picture_id": 32767, "tl0picidx": 1, "tid": 2, "keyidx": 9}]


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=lambda d: ",".join(d) or "none")
def test_vp8_frames_with_every_descriptor_shape(descriptor: dict[str, int]) -> None:
    key, inter = vp8_key(), vp8_inter()
    dep = Vp8Depacketizer()
    frames = feed(dep, rtp_stream([(9000, vp8_payloads(key, **descriptor)), (12000, vp8_payloads(inter, **descriptor))],
                                  first_seq=65534))          # the sequence number wraps inside
    assert frames == [EncodedFrame(9000, True, key), EncodedFrame(12000, False, inter)]
    assert (dep.frames, dep.gaps, dep.malformed, dep.dropped_frames) == (2, 0, 0, 0)


def test_vp8_agrees_with_aiortcs_packetizer() -> None:
    key, inter = vp8_key(5000), vp8_inter(3000)
    packets = rtp_stream([(0, Vp8Encoder._packetize(key, 1234)), (3000, Vp8Encoder._packetize(inter, 1235))])
    assert feed(Vp8Depacketizer(), packets) == [EncodedFrame(0, True, key), EncodedFrame(3000, False, inter)]


def test_vp8_gap_drops_until_the_next_keyframe() -> None:
    frames = [vp8_key(seed=i) if i in (0, 4) else vp8_inter(2500, seed=i) for i in range(6)]
    packets = rtp_stream([(i * 3000, vp8_payloads(frame)) for i, frame in enumerate(frames)])
    lost = [p[1] for p in packets].index(6000) + 1            # frame 2's second packet
    resume = [p[1] for p in packets].index(12000)              # frame 4, a key frame
    dep = Vp8Depacketizer()
    assert dep.waiting_for_keyframe
    out = feed(dep, packets[:lost])
    assert not dep.waiting_for_keyframe
    out += feed(dep, packets[lost + 1:resume])
    assert dep.waiting_for_keyframe                           # frames 2 and 3 dropped: time for a PLI
    out += feed(dep, packets[resume:])
    assert [(f.rtp_timestamp, f.keyframe) for f in out] == [(0, True), (3000, False), (12000, True), (15000, False)]
    assert out[2].data == frames[4] and out[3].data == frames[5]
    assert (dep.gaps, dep.dropped_frames, dep.malformed) == (1, 2, 0)


def test_vp8_late_and_repeated_packets_are_ignored_and_a_mid_frame_start_waits() -> None:
    packets = rtp_stream([(0, vp8_payloads(vp8_key())), (3000, vp8_payloads(vp8_inter()))], first_seq=10)
    dep = Vp8Depacketizer()
    out = feed(dep, packets[1:3] + [packets[2], packets[0]] + packets[3:])
    assert out == []                                   # joined mid key frame: nothing until the next key frame
    assert dep.late == 2 and dep.dropped_frames == 2 and dep.malformed == 0


# -- H.264 ---------------------------------------------------------------------------------------
def test_h264_stap_a_and_fu_a_make_annexb_access_units() -> None:
    key, inter = h264_au(SPS, PPS, idr()), h264_au(non_idr())
    payloads = h264_payloads(key)
    assert payloads[0][0] & 0x1F == 24 and all(p[0] & 0x1F == 28 for p in payloads[1:])
    dep = H264Depacketizer()
    out = feed(dep, rtp_stream([(0, payloads), (3000, h264_payloads(inter))]))
    assert out == [EncodedFrame(0, True, key), EncodedFrame(3000, False, inter)]


def test_h264_agrees_with_aiortcs_packetizer() -> None:
    key, inter = h264_au(SPS, PPS, idr(5000)), h264_au(non_idr(2000))
    packets = rtp_stream([(0, H264Encoder._packetize(annexb_nals(key))), (3000, H264Encoder._packetize([inter[4:]]))])
    assert feed(H264Depacketizer(), packets) == [EncodedFrame(0, True, key), EncodedFrame(3000, False, inter)]


def test_h264_parameter_sets_are_carried_to_an_idr_without_them() -> None:
    dep = H264Depacketizer()
    packets = rtp_stream([(0, h264_payloads(h264_au(SPS, PPS))),         # parameter sets alone: no frame
                          (3000, h264_payloads(h264_au(b"\x09\xf0", idr()))),
                          (6000, h264_payloads(h264_au(non_idr())))])
    out = feed(dep, packets)
    assert [f.data for f in out] == [h264_au(b"\x09\xf0", SPS, PPS, idr()), h264_au(non_idr())]
    assert out[0].keyframe and not out[1].keyframe


def test_h264_gap_inside_an_fu_a_drops_until_the_next_idr() -> None:
    aus = [h264_au(SPS, PPS, idr()), h264_au(non_idr(3000)), h264_au(non_idr(seed=9)), h264_au(SPS, PPS, idr(seed=5))]
    packets = rtp_stream([(i * 3000, h264_payloads(au)) for i, au in enumerate(aus)])
    second = [p for p in packets if p[1] == 3000]
    dep = H264Depacketizer()
    out = feed(dep, [p for p in packets if p is not second[1]])
    assert [f.rtp_timestamp for f in out] == [0, 9000]
    assert out[1].data == aus[3] and dep.gaps == 1 and dep.dropped_frames == 2 and dep.malformed == 0


def test_h264_after_a_gap_a_headless_access_unit_is_dropped() -> None:
    second_slice = b"\x65\x48" + bytes(range(1, 200))       # first_mb_in_slice ≠ 0: not the start of a picture
    assert h264_begins_access_unit(b"\x65\x88") and not h264_begins_access_unit(second_slice)
    packets = rtp_stream([(0, [h264_payloads(h264_au(SPS, PPS))[0], b"\x65\x88\x01", second_slice]),
                          (3000, [b"\x7c\x85\x88\x01", b"\x7c\x45\x02", second_slice])])
    dep = H264Depacketizer()
    out = feed(dep, packets[:3] + packets[4:])                # the FU-A start of the second IDR is lost
    assert len(out) == 1 and out[0].rtp_timestamp == 0 and dep.dropped_frames == 1 and dep.malformed == 0


# -- Opus ----------------------------------------------------------------------------------------
def test_opus_every_packet_is_a_frame_and_a_gap_loses_only_itself() -> None:
    dep = OpusDepacketizer()
    assert not dep.waiting_for_keyframe
    payloads = [bytes([0x78, i]) for i in range(5)]
    packets = rtp_stream([(i * 960, [p]) for i, p in enumerate(payloads)])
    out = feed(dep, packets[:2] + packets[3:])
    assert out == [EncodedFrame(i * 960, True, payloads[i]) for i in (0, 1, 3, 4)]
    assert dep.gaps == 1 and dep.dropped_frames == 0 and not dep.waiting_for_keyframe


# -- malformed input -----------------------------------------------------------------------------
MALFORMED = {
    "vp8": [b"\x80", b"\x90\x80", b"\x90\x80\x81", b"\x10", b"\x90\x80\x05", b"\x10\x00\x00\x9d\x01\x2b\x40\x01\xf0\x00"],
    "h264": [b"\x18\x00\x10\x67", b"\x18\x00", b"\x7c\xc5\x00", b"\x7c\x85", b"\x7c", b"\x00", b"\x1e\x01", b"\x1f\x01",
             b"\x19\x00\x01", b"\xe5\x88", b"\x7c\x45\x01"],
    # code 1 with an odd pair, code 2 overrunning or cut, code 3 with no count, 0 frames or 180 ms of 60 ms frames
    "opus": [b"\x79\xaa", b"\x7a\x10\x00", b"\x7a\xfc", b"\x7b", b"\x7b\x00", b"\x1b\x03"],
}


@pytest.mark.parametrize("codec", ["vp8", "h264", "opus"])
def test_malformed_payloads_are_counted_never_raised(codec: str) -> None:
    def good(i: int) -> list[bytes]:       # a key frame
        if codec == "vp8":
            return vp8_payloads(vp8_key(seed=i))
        return h264_payloads(h264_au(SPS, PPS, idr(seed=i))) if codec == "h264" else [bytes([0x78, i])]

    frames: list[tuple[int, list[bytes]]] = []
    for i, bad in enumerate(MALFORMED[codec]):
        frames += [(2 * i * 3000, good(i)), ((2 * i + 1) * 3000, [bad])]
    frames.append((10**6, good(99)))
    dep = depacketizer_for(codec)
    out = feed(dep, rtp_stream(frames))
    assert dep.malformed == len(MALFORMED[codec])
    assert len(out) == len(MALFORMED[codec]) + 1 and all(f.keyframe for f in out)


def test_opus_packets_of_every_frame_count_code() -> None:
    dep = OpusDepacketizer()
    good = [b"\xfc\xff\xfe", b"\x79\xaa\xbb", b"\x7a\x01\xaa\xbb", b"\x7a\xfc\x00" + bytes(252),
            b"\x7b\x06" + bytes(60), b"\x1b\x02" + bytes(40)]           # 6 × 20 ms CELT, 2 × 60 ms SILK
    assert len(feed(dep, rtp_stream([(i * 960, [p]) for i, p in enumerate(good)]))) == len(good)
    assert dep.malformed == 0


@pytest.mark.parametrize("codec", ["vp8", "h264", "opus"])
def test_padding_only_packets_are_skipped(codec: str) -> None:
    """Bandwidth probes: payload-less packets with the last frame's timestamp, between and inside frames."""
    frames = {"vp8": [vp8_payloads(vp8_key()), vp8_payloads(vp8_inter(3000))],
              "h264": [h264_payloads(h264_au(SPS, PPS, idr())), h264_payloads(h264_au(non_idr(2500)))],
              "opus": [[b"\xfc\x01"], [b"\xfc\x02"]]}[codec]
    first, second = frames
    items = ([(0, p, i == len(first) - 1) for i, p in enumerate(first)] + [(0, b"", False)] * 2
             + [(3000, second[0], len(second) == 1), (3000, b"", False)]
             + [(3000, p, i == len(second) - 2) for i, p in enumerate(second[1:])])
    dep = depacketizer_for(codec)
    out = feed(dep, [(seq, ts, marker, payload) for seq, (ts, payload, marker) in enumerate(items)])
    assert out == feed(depacketizer_for(codec), rtp_stream([(0, first), (3000, second)])) and len(out) == 2
    assert (dep.padding, dep.malformed, dep.gaps, dep.dropped_frames) == (3, 0, 0, 0)


@pytest.mark.parametrize("codec", ["VP8", "H264", "opus"])
def test_random_bytes_never_raise(codec: str) -> None:
    rng = random.Random(codec)
    dep = depacketizer_for(codec)
    for seq in range(3000):
        payload = rng.randbytes(rng.randrange(0, 40))
        dep.push(seq if rng.random() > 0.05 else rng.randrange(65536), rng.choice([0, 3000]), rng.random() < 0.3, payload)
    assert dep.malformed > 0


def test_aiortc_packets_and_codec_names() -> None:
    dep = depacketizer_for("VP8")
    packet = RtpPacket(payload_type=96, marker=1, sequence_number=7, timestamp=90000,
                       payload=vp8_payloads(vp8_key(900))[0])
    assert dep.push_packet(packet) == [EncodedFrame(90000, True, vp8_key(900))]
    assert isinstance(depacketizer_for("h264"), H264Depacketizer)
    with pytest.raises(ValueError):
        depacketizer_for("G722")
