"""The benchmarks' counting subscribers read their sockets with recvmmsg in batches
(``bench/drain.py``): what they count must be what a packet-by-packet reader counts, and whatever
is not RTP (STUN, DTLS) must still reach aioice and aiortc whole, with its sender's address."""

from __future__ import annotations

import socket
import struct

import pytest

from bench.drain import BATCH, Drainer, _Taken

AUDIO, VIDEO = 111, 96


class Counts:
    def __init__(self) -> None:
        self.packets = self.audio_frames = self.video_frames = 0
        self._audio_pts, self._video_pts = {AUDIO}, {VIDEO}


class Stun:
    def __init__(self) -> None:
        self.got: list[tuple[bytes, tuple[str, int]]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((data, addr))


def rtp(pt: int, seq: int, size: int, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq, seq * 3000, 0x1234) + bytes(size)


@pytest.mark.parametrize("rounds", [1, BATCH // 2])  # BATCH // 2: 2 × BATCH datagrams, three recvmmsg calls
@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_a_batch_counts_what_a_packet_reader_would_and_hands_the_rest_over(rounds: int, family: int) -> None:
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    receiver = socket.socket(family, socket.SOCK_DGRAM)
    receiver.bind((host, 0))
    receiver.setblocking(False)
    sender = socket.socket(family, socket.SOCK_DGRAM)
    sender.bind((host, 0))
    counts, stun, other = Counts(), Stun(), []
    drainer = Drainer()
    taken = _Taken(counts, receiver, stun, lambda data, component: other.append((data, component)))
    drainer.taken.append(taken)
    sent_stun = b"\x00\x01\x00\x00" + bytes(16)
    try:
        for i in range(rounds):
            sender.sendto(rtp(AUDIO, i, 60), receiver.getsockname())
            sender.sendto(rtp(VIDEO, i, 100), receiver.getsockname())  # inside a frame
            sender.sendto(rtp(VIDEO, i, 90, marker=True), receiver.getsockname())  # a frame's end
            sender.sendto(struct.pack("!BBHI", 0x80, 201, 1, 0x1234), receiver.getsockname())  # RTCP: not counted
        sender.sendto(sent_stun, receiver.getsockname())
        sender.sendto(b"\x16\xfe\xfd" + bytes(10), receiver.getsockname())  # DTLS
        drainer._drain(taken)
        assert (counts.packets, counts.audio_frames, counts.video_frames) == (3 * rounds, rounds, rounds)
        assert [(data, addr[:2]) for data, addr in stun.got] == [(sent_stun, sender.getsockname()[:2])]
        assert other == [(b"\x16\xfe\xfd" + bytes(10), 1)]
        drainer._drain(taken)  # nothing queued: nothing more counted
        assert counts.packets == 3 * rounds
    finally:
        receiver.close()
        sender.close()


def test_a_failed_socket_is_no_longer_read() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    drainer = Drainer()
    taken = _Taken(Counts(), receiver, Stun(), lambda data, component: None)
    drainer.taken.append(taken)
    receiver.close()  # fileno -1: recvmmsg fails with EBADF
    drainer._drain(taken)
    assert drainer.taken == []
