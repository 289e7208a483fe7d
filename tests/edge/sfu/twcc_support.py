"""Building transport-wide cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1)
the way a receiver does, for tests."""

from __future__ import annotations

import struct


def twcc_fci(base: int, arrivals: list[int | None], reference_us: int = 0, fb_count: int = 0) -> bytes:
    """Feedback for packets base, base+1, … arriving at *arrivals* (µs on the receiver's clock,
    None: lost). Uses run-length chunks for runs and two-bit status vectors otherwise."""
    reference = reference_us // 64000
    now = reference * 64000
    symbols: list[int] = []
    deltas = b""
    for arrival in arrivals:
        if arrival is None:
            symbols.append(0)
            continue
        delta = (arrival - now) // 250
        now += delta * 250
        if 0 <= delta <= 255:
            symbols.append(1)
            deltas += bytes([delta])
        else:
            symbols.append(2)
            deltas += struct.pack("!h", delta)
    chunks = b""
    i = 0
    while i < len(symbols):
        run = 1
        while i + run < len(symbols) and symbols[i + run] == symbols[i] and run < 0x1FFF:
            run += 1
        if run >= 7:
            chunks += struct.pack("!H", (symbols[i] << 13) | run)
            i += run
            continue
        group = symbols[i:i + 7]
        value = 0xC000
        for k, s in enumerate(group):
            value |= s << (12 - 2 * k)
        chunks += struct.pack("!H", value)
        i += len(group)
    body = struct.pack("!HHI", base, len(arrivals), ((reference & 0xFFFFFF) << 8) | fb_count) + chunks + deltas
    return body + b"\x00" * (-len(body) % 4)


def rtpfb(fci: bytes, fmt: int = 15, sender: int = 1, media: int = 0) -> bytes:
    """One RTCP RTPFB packet around *fci* (padded to 32 bits)."""
    fci += b"\x00" * (-len(fci) % 4)
    body = struct.pack("!II", sender, media) + fci
    return struct.pack("!BBH", 0x80 | fmt, 205, len(body) // 4) + body


def psfb_remb(bitrate: int, ssrcs: list[int]) -> bytes:
    from edge.sfu.bandwidth import pack_remb

    body = struct.pack("!II", 1, 0) + pack_remb(bitrate, ssrcs)
    return struct.pack("!BBH", 0x80 | 15, 206, len(body) // 4) + body


def receiver_report(ssrc: int, fraction_lost: float) -> bytes:
    block = struct.pack("!IB3sIIII", ssrc, int(fraction_lost * 256) & 0xFF, b"\x00\x00\x00", 0, 0, 0, 0)
    body = struct.pack("!I", 1) + block
    return struct.pack("!BBH", 0x81, 201, len(body) // 4) + body
