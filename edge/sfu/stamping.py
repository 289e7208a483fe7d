"""Feedback the edge asks subscribers for, and the header extensions that make it possible.

aiortc negotiates neither transport-wide congestion control nor its header extension, so the
edge adds both to its subscribe offers itself (:func:`offer_transport_cc`): ``a=extmap:<id>`` with
the transport-wide sequence number URI and ``a=rtcp-fb:<pt> transport-cc`` on every video
m-section. A client that supports it (browsers) answers with them; :func:`answered` reads what
each m-section's answer kept. A client that answers without them but with ``goog-remb`` and
abs-send-time (aiortc) sends REMB computed from the abs-send-time the edge then stamps.

:func:`stamper` builds the per-packet step that writes either extension into a forwarded
packet's one-byte extension block (RFC 8285): the rest of the block is precomputed, so a packet
costs a sequence number (or a clock read) and two concatenations.
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc.codecs import is_rtx

from . import sdp
from .bandwidth import ABS_SEND_TIME_URI, TWCC_URI, TransportSequence

_EXTMAP = re.compile(r"^a=extmap:(\d+)", re.M)
_H = struct.Struct("!H")
_I = struct.Struct("!I")


def offer_transport_cc(text: str) -> str:
    """The offer *text* with transport-wide cc (extension and feedback) on its video m-sections."""
    used = {int(i) for i in _EXTMAP.findall(text)}
    free = next((i for i in range(1, 15) if i not in used), None)
    if free is None or TWCC_URI in text:
        return text
    eol = "\r\n" if "\r\n" in text else "\n"
    head, *sections = text.split(eol + "m=")
    out = [head]
    for section in sections:
        lines = section.split(eol)
        if lines[0].startswith("video "):
            last_extmap = max((i for i, line in enumerate(lines) if line.startswith("a=extmap:")), default=0)
            kept: list[str] = []
            for i, line in enumerate(lines):
                kept.append(line)
                rtpmap = re.match(r"a=rtpmap:(\d+) (\S+)/", line)
                if rtpmap and rtpmap.group(2).lower() != "rtx":
                    kept.append(f"a=rtcp-fb:{rtpmap.group(1)} transport-cc")
                if i == last_extmap:
                    kept.append(f"a=extmap:{free} {TWCC_URI}")
            lines = kept
        out.append(eol.join(lines))
    return (eol + "m=").join(out)


@dataclass(frozen=True)
class Answered:
    """The congestion feedback an m-section's answer kept: extension ids (None: not kept)."""
    transport_cc: int | None = None
    abs_send_time: int | None = None
    remb: bool = False


def answered(text: str) -> dict[str, Answered]:
    """Per mid of a (checked) answer, the congestion feedback it negotiated."""
    out: dict[str, Answered] = {}
    for media in sdp.parse(text, "answer").media:
        mid = media.rtp.muxId
        ids = {e.uri: e.id for e in media.rtp.headerExtensions}
        feedback = {f.type for c in media.rtp.codecs if not is_rtx(c) for f in c.rtcpFeedback}
        out[mid] = Answered(transport_cc=ids.get(TWCC_URI) if "transport-cc" in feedback else None,
                            abs_send_time=ids.get(ABS_SEND_TIME_URI), remb="goog-remb" in feedback)
    return out


def _elements(block: bytes) -> list[tuple[int, bytes]]:
    """The elements of a one-byte extension block (the 0xBEDE header included, or empty)."""
    body, out, i = block[4:], [], 0
    while i < len(body):
        b = body[i]
        if b == 0:
            i += 1
            continue
        n = (b & 0x0F) + 1
        out.append((b >> 4, body[i + 1:i + 1 + n]))
        i += 1 + n
    return out


def _split(block: bytes, ident: int, size: int) -> tuple[bytes, bytes]:
    """(before, after): ``before + value + after`` is *block* with a *size*-byte element *ident* added."""
    elements = [(i, v) for i, v in _elements(block) if i != ident]
    body = b"".join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in elements) + bytes([(ident << 4) | (size - 1)])
    pad = -(len(body) + size) % 4
    return struct.pack("!HH", 0xBEDE, (len(body) + size + pad) // 4) + body, b"\x00" * pad


def stamper(answer: Answered, sequence: TransportSequence) -> Callable[[bytes, int], bytes] | None:
    """The step that adds the feedback extension to a packet's extension block (given the block
    and the payload size), or None when the subscriber negotiated neither."""
    table: dict[bytes, tuple[bytes, bytes]] = {}
    if answer.transport_cc is not None:
        ident, stamp = answer.transport_cc, sequence.stamp

        def transport_cc(ext: bytes, size: int) -> bytes:
            parts = table.get(ext)
            if parts is None:
                parts = table[ext] = _split(ext, ident, 2)
            return parts[0] + _H.pack(stamp(size + 40)) + parts[1]

        return transport_cc
    if answer.abs_send_time is not None and answer.remb:
        ident_abs, clock = answer.abs_send_time, time.monotonic

        def abs_send_time(ext: bytes, size: int) -> bytes:
            parts = table.get(ext)
            if parts is None:
                parts = table[ext] = _split(ext, ident_abs, 3)
            return parts[0] + _I.pack(int(clock() * 262144) & 0xFFFFFF)[1:] + parts[1]  # 6.18 fixed point, mod 64 s

        return abs_send_time
    return None
