"""Counting subscribers that read their sockets in batches, so that the load generators of
``bench/machine.py`` cost a small fraction of the edge workers they load. Nothing here is part of
the product.

A counting subscriber (``bench.common.Subscriber``) connects with aiortc as any peer: ICE, DTLS,
SRTP keys, the first keyframe. Then it is handed over (:meth:`Drainer.take`): its ICE sockets
leave the event loop (a duplicate of each stays open, so the kernel sockets and their addresses
do not change), and every ``INTERVAL`` the process reads all that has queued on each handed-over
socket in one plain loop — one ``recvfrom_into`` a packet, no event-loop callback. RTP is
counted from its header (in clear under SRTP): packets, audio packets, complete video frames
(marker bits). STUN still goes to aioice, whose consent checks and answers keep working (its
sends go out through the duplicate), and DTLS to aiortc. Its receivers' RTCP loops stop: aiortc's
receive path never saw a packet, so they had nothing to report and sent nothing. The edge gets no
feedback from these subscribers, as before, and forwards them its single layer regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any, Protocol

INTERVAL = 0.05  # seconds between batches: about eight packets a stream queue meanwhile


class Counts(Protocol):
    packets: int
    audio_frames: int
    video_frames: int
    _audio_pts: set[int]
    _video_pts: set[int]


class _Sender:
    """What aioice's protocol sends through once its socket is handed over."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def sendto(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self.sock.sendto(data, addr)

    def close(self) -> None:
        self.sock.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"socket": self.sock, "sockname": self.sock.getsockname()}.get(name, default)


class _Taken:
    def __init__(self, counts: Counts, sock: socket.socket, protocol: Any, other: Any) -> None:
        self.counts, self.sock, self.protocol, self.other = counts, sock, protocol, other


class Drainer:
    """The handed-over sockets of one process, read every :data:`INTERVAL`."""

    def __init__(self) -> None:
        self.taken: list[_Taken] = []
        self._buf = bytearray(2048)
        self._task: asyncio.Task | None = None

    def take(self, counts: Counts, connection: Any, other: Any) -> bool:
        """Hand over the sockets of *connection* (an aioice ``Connection``): every local
        candidate's, since media may come to another than the pair this side sees nominated.
        Packets that are neither RTP nor STUN go to *other* (``data_received(data, component)``).
        False when ICE has nominated nothing yet."""
        if connection._nominated.get(1) is None:
            return False
        for protocol in list(connection._protocols):
            loop_transport = protocol.transport
            if loop_transport is None or isinstance(loop_transport, _Sender):
                continue
            sock = socket.socket(fileno=os.dup(loop_transport.get_extra_info("socket").fileno()))
            sock.setblocking(False)
            protocol.connection_lost = lambda exc: None  # leaving the loop is not losing the socket
            protocol.transport = _Sender(sock)
            loop_transport.close()
            self.taken.append(_Taken(counts, sock, protocol, other))
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return True

    def forget(self, counts: Counts) -> bool:
        """Stop reading *counts*' sockets; whether it had any handed over."""
        mine = [t for t in self.taken if t.counts is counts]
        for t in mine:
            self.taken.remove(t)
        return bool(mine)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            for t in list(self.taken):
                self._drain(t)

    def _drain(self, t: _Taken) -> None:
        buf, recvfrom_into, c = self._buf, t.sock.recvfrom_into, t.counts
        audio, video = c._audio_pts, c._video_pts
        packets = audio_frames = video_frames = 0
        while True:
            try:
                n, addr = recvfrom_into(buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.taken.remove(t)
                break
            first = buf[0]
            if 127 < first < 192 and n >= 12:
                second = buf[1]
                if 192 <= second <= 223:  # RTCP
                    continue
                packets += 1
                pt = second & 0x7F
                if pt in audio:
                    audio_frames += 1
                elif pt in video and second & 0x80:
                    video_frames += 1
            elif first < 2:  # STUN: aioice's consent checks and answers
                t.protocol.datagram_received(bytes(buf[:n]), addr)
            else:
                t.other(bytes(buf[:n]), 1)
        c.packets += packets
        c.audio_frames += audio_frames
        c.video_frames += video_frames


#: The process's one drainer.
DRAINER = Drainer()
