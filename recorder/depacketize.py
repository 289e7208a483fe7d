"""Depacketizers: the RTP packets of one stream in, whole encoded frames out.

* VP8 (RFC 7741 §4.2–4.3): the payload descriptor (X, then I/L/T/K extensions with a 7- or 15-bit
  picture ID) is stripped; a frame starts at S=1 in partition 0, gathers the packets of one RTP
  timestamp and ends at the marker bit. It is a key frame when the inverse key frame flag P of the
  VP8 payload header (the first byte of the frame) is 0.
* H.264 (RFC 6184, non-interleaved mode): single NAL unit packets (types 1–23), STAP-A (24) and
  FU-A (28) become one Annex B access unit per timestamp (``00 00 00 01`` before each NAL unit).
  An access unit with an IDR slice (type 5) is a key frame; SPS (7) and PPS (8) stay in it, and the
  last ones seen are put in front of an IDR access unit that arrives without them.
* Opus (RFC 7587 §4.2): every packet is one frame, checked as far as RFC 6716 §3.4 allows.

Packets are assumed in order. A sequence gap drops the frame it broke and every frame after it
until the next key frame (``waiting_for_keyframe`` says when to ask for one); an H.264 access unit
that follows a gap must visibly begin (a parameter set, or a slice with first_mb_in_slice 0). A
late or repeated packet, or one without payload (padding, a bandwidth probe), is skipped.
Malformed payloads are dropped and counted in ``malformed``, never raised.
"""

from __future__ import annotations

from typing import NamedTuple

from aiortc.rtp import RtpPacket

ANNEXB_START = b"\x00\x00\x00\x01"


class EncodedFrame(NamedTuple):
    rtp_timestamp: int
    keyframe: bool
    data: bytes


class Depacketizer:
    """Sequence tracking and frame assembly shared by the codecs; subclasses parse payloads."""

    def __init__(self) -> None:
        self.frames = 0            # frames handed out
        self.dropped_frames = 0    # frames lost to a gap, a malformed packet or the wait for a key frame
        self.malformed = 0         # payloads that could not be parsed
        self.gaps = 0              # sequence gaps seen
        self.late = 0              # late or repeated packets ignored
        self.padding = 0           # packets without a payload, ignored
        self.waiting_for_keyframe = True     # video starts at a key frame: ask for one
        self._resync = True                  # the next frame may have lost its first packets
        self._last_seq: int | None = None
        self._ts: int | None = None          # timestamp of the frame being assembled
        self._parts: list[bytes] = []
        self._broken = False                 # the frame being assembled lost a packet

    def push_packet(self, packet: RtpPacket) -> list[EncodedFrame]:
        return self.push(packet.sequence_number, packet.timestamp, bool(packet.marker), bytes(packet.payload))

    def push(self, sequence_number: int, timestamp: int, marker: bool, payload: bytes) -> list[EncodedFrame]:
        """Feed one packet; returns the frames it completed (usually none or one)."""
        out: list[EncodedFrame] = []
        gap = False
        if self._last_seq is not None:
            delta = (sequence_number - self._last_seq) & 0xFFFF
            if delta == 0 or delta >= 0x8000:
                self.late += 1
                return out
            if delta != 1:
                self.gaps += 1
                self.waiting_for_keyframe = gap = True
                self._broken = self._broken or self._ts is not None     # the frame in progress lost packets
        self._last_seq = sequence_number
        if not payload:              # padding only (RFC 3550 §5.1), e.g. a bandwidth probe
            self.padding += 1
            return out
        if self._ts is not None and timestamp != self._ts:
            self._finish(out)        # the previous frame ended without a marker (or lost it)
        self._resync = self._resync or gap
        self._ts = timestamp
        try:
            self._packet(payload)
        except (IndexError, ValueError):
            self.malformed += 1
            self._broken = True
            self.waiting_for_keyframe = True
        if marker:
            self._finish(out)
        return out

    def _packet(self, payload: bytes) -> None:
        raise NotImplementedError

    def _assemble(self) -> tuple[bytes, bool] | None:
        """The frame's bytes and whether it is a key frame; None when there is nothing to hand out."""
        raise NotImplementedError

    def _reset(self) -> None:
        self._ts = None
        self._parts = []
        self._broken = False

    def _finish(self, out: list[EncodedFrame]) -> None:
        ts, broken, assembled = self._ts, self._broken, None
        try:
            assembled = None if broken else self._assemble()
        except (IndexError, ValueError):
            self.malformed += 1
            self.waiting_for_keyframe = broken = True
        self._reset()
        self._resync = False
        if ts is None:
            return
        if assembled is None:
            if broken:
                self.dropped_frames += 1
            return
        data, keyframe = assembled
        if self.waiting_for_keyframe and not keyframe:
            self.dropped_frames += 1
            return
        self.waiting_for_keyframe = False
        self.frames += 1
        out.append(EncodedFrame(ts, keyframe, data))


def vp8_descriptor_size(payload: bytes) -> int:
    """Length of the VP8 payload descriptor at the start of *payload* (RFC 7741 §4.2)."""
    size = 1
    if payload[0] & 0x80:                # X: an extension byte follows
        ext = payload[1]
        size = 2
        if ext & 0x80:                   # I: picture ID, M bit selects 15 bits
            size += 2 if payload[size] & 0x80 else 1
        if ext & 0x40:                   # L: TL0PICIDX
            size += 1
        if ext & 0x30:                   # T or K: TID/Y/KEYIDX byte
            size += 1
    if size >= len(payload):
        raise ValueError("VP8 payload descriptor without a payload")
    return size


class Vp8Depacketizer(Depacketizer):
    """RFC 7741: VP8 frames from RTP."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False

    def _reset(self) -> None:
        super()._reset()
        self._started = False

    def _packet(self, payload: bytes) -> None:
        size = vp8_descriptor_size(payload)
        start = bool(payload[0] & 0x10) and payload[0] & 0x07 == 0
        if start:
            if self._parts:              # a second start in one timestamp
                raise ValueError("VP8 frame restarted")
            self._started = True
        elif not self._started:          # the frame's start was lost: wait for the next one
            self._broken = True
            return
        self._parts.append(payload[size:])

    def _assemble(self) -> tuple[bytes, bool] | None:
        if not self._parts:
            return None
        data = b"".join(self._parts)
        keyframe = data[0] & 0x01 == 0
        if keyframe and (len(data) < 10 or data[3:6] != b"\x9d\x01\x2a"):
            raise ValueError("VP8 key frame without its start code")
        return data, keyframe


def h264_begins_access_unit(payload: bytes) -> bool:
    """Whether an RTP payload (RFC 6184) can be the first of an access unit: it starts with an SEI,
    SPS, PPS or access unit delimiter, or with the first slice of a picture (first_mb_in_slice = 0,
    an Exp-Golomb 0: the bit after the NAL header is 1)."""
    nal_type = payload[0] & 0x1F
    if nal_type == 24:                   # STAP-A: look at its first NAL unit
        return len(payload) > 4 and h264_begins_access_unit(payload[3:])
    if nal_type == 28:                   # FU-A: only its start fragment, then as the NAL unit
        return len(payload) > 2 and bool(payload[1] & 0x80) and _begins(payload[1] & 0x1F, payload[2:3])
    return _begins(nal_type, payload[1:2])


def _begins(nal_type: int, first: bytes) -> bool:
    if nal_type in (1, 5):
        return bool(first) and bool(first[0] & 0x80)
    return 6 <= nal_type <= 9


class H264Depacketizer(Depacketizer):
    """RFC 6184 (packetization-mode 0 and 1): Annex B access units from RTP."""

    def __init__(self) -> None:
        super().__init__()
        self._fu: bytearray | None = None    # the FU-A NAL unit being reassembled
        self._sps: bytes | None = None
        self._pps: bytes | None = None

    def _reset(self) -> None:
        super()._reset()
        self._fu = None

    def _packet(self, payload: bytes) -> None:
        nal_type = payload[0] & 0x1F
        if self._resync and not self._parts and self._fu is None and not h264_begins_access_unit(payload):
            self._broken = True          # after a gap: this access unit lost its first packets
            return
        if 1 <= nal_type <= 23:
            self._nal(payload)
        elif nal_type == 24:             # STAP-A: (16-bit size, NAL unit)*
            pos = 1
            nals = []
            while pos < len(payload):
                size = int.from_bytes(payload[pos:pos + 2], "big")
                nal = payload[pos + 2:pos + 2 + size]
                if size == 0 or len(nal) != size:
                    raise ValueError("STAP-A unit overruns the packet")
                nals.append(nal)
                pos += 2 + size
            if not nals:
                raise ValueError("empty STAP-A")
            for nal in nals:
                self._nal(nal)
        elif nal_type == 28:             # FU-A: indicator, header (S E R type), fragment
            self._fragment(payload)
        else:                            # STAP-B, MTAP, FU-B: interleaved mode only; 0, 30, 31: reserved
            raise ValueError(f"NAL unit type {nal_type} is not carried in non-interleaved mode")

    def _fragment(self, payload: bytes) -> None:
        header = payload[1]
        fragment = payload[2:]
        if header & 0x80 and header & 0x40 or not fragment:
            raise ValueError("bad FU-A header")
        if header & 0x80:
            if self._fu is not None:
                raise ValueError("FU-A started twice")
            self._fu = bytearray([payload[0] & 0xE0 | header & 0x1F])
        elif self._fu is None:
            raise ValueError("FU-A continues no fragment")
        self._fu += fragment
        if header & 0x40:
            nal, self._fu = bytes(self._fu), None
            self._nal(nal)

    def _nal(self, nal: bytes) -> None:
        if self._fu is not None:
            raise ValueError("FU-A interrupted")
        if not nal or nal[0] & 0x80:     # forbidden_zero_bit
            raise ValueError("NAL unit with the forbidden bit set")
        self._parts.append(nal)

    def _assemble(self) -> tuple[bytes, bool] | None:
        if self._fu is not None:
            raise ValueError("access unit ends inside an FU-A")
        types = [nal[0] & 0x1F for nal in self._parts]
        for nal, nal_type in zip(self._parts, types, strict=True):
            if nal_type == 7:
                self._sps = nal
            elif nal_type == 8:
                self._pps = nal
        if not any(1 <= t <= 5 for t in types):
            return None                  # parameter sets or SEI alone: kept for the next key frame
        keyframe = 5 in types
        nals = list(self._parts)
        at = 1 if types[0] == 9 else 0     # after an access unit delimiter
        if keyframe and 8 not in types and self._pps is not None:
            nals.insert(at, self._pps)
        if keyframe and 7 not in types and self._sps is not None:
            nals.insert(at, self._sps)
        return b"".join(ANNEXB_START + nal for nal in nals), keyframe


def opus_packet_valid(packet: bytes) -> bool:
    """The checks of RFC 6716 §3.4 ([R1]–[R7]) that the TOC byte and frame count byte allow."""
    if not packet:
        return False
    config, code = packet[0] >> 3, packet[0] & 0x03
    if code == 1:                        # two frames of equal size
        return len(packet) % 2 == 1
    if code == 2:                        # two frames, the first one's length coded in 1 or 2 bytes
        if len(packet) < 2 or packet[1] >= 252 and len(packet) < 3:
            return False
        first, header = (packet[1], 2) if packet[1] < 252 else (packet[2] * 4 + packet[1], 3)
        return first <= len(packet) - header
    if code == 3:                        # 1 to 120 ms of frames, counted in the second byte
        if len(packet) < 2:
            return False
        quarter_ms = (40, 80, 160, 240)[config % 4] if config < 12 else (
            (40, 80)[config % 2] if config < 16 else (10, 20, 40, 80)[config % 4])
        count = packet[1] & 0x3F
        return count >= 1 and count * quarter_ms <= 480
    return True


class OpusDepacketizer(Depacketizer):
    """RFC 7587: one Opus packet (one frame, TOC byte first) per RTP packet."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting_for_keyframe = False

    def _packet(self, payload: bytes) -> None:
        if not opus_packet_valid(payload):
            raise ValueError("malformed Opus packet")
        self._parts = [payload]

    def _assemble(self) -> tuple[bytes, bool] | None:
        return (self._parts[0], True) if self._parts else None

    def push(self, sequence_number: int, timestamp: int, marker: bool, payload: bytes) -> list[EncodedFrame]:
        # every packet stands alone: a gap loses only the missing packets
        frames = super().push(sequence_number, timestamp, True, payload)
        self.waiting_for_keyframe = False
        return frames


def depacketizer_for(codec: str) -> Depacketizer:
    """The depacketizer for an SDP codec name (``VP8``, ``H264``, ``opus``)."""
    kinds: dict[str, type[Depacketizer]] = {"vp8": Vp8Depacketizer, "h264": H264Depacketizer,
                                            "opus": OpusDepacketizer}
    try:
        return kinds[codec.lower()]()
    except KeyError:
        raise ValueError(f"no depacketizer for {codec!r}") from None
