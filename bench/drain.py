"""Counting subscribers that read their sockets in batches, so that the load generators of
``bench/machine.py`` cost a small fraction of the edge workers they load. Nothing here is part of
the product.

A counting subscriber (``bench.common.Subscriber``) connects with aiortc as any peer: ICE, DTLS,
SRTP keys, the first keyframe. Then it is handed over (:meth:`Drainer.take`): its ICE sockets
leave the event loop (a duplicate of each stays open, so the kernel sockets and their addresses
do not change), and every ``INTERVAL`` the process reads all that has queued on each handed-over
socket in one plain loop — one ``recvfrom_into`` a packet, no event-loop callback. RTP is
counted from its header (in clear under SRTP): packets, audio packets, complete video frames
(marker bits). A socket is read with ``recvmmsg(2)`` (through ctypes): one call returns all
that queued, and the RTP headers of the batch are counted by byte-table lookups in C, so a packet
costs the kernel's receive and no Python of its own. STUN still goes to aioice, whose consent
checks and answers keep working (its sends go out through the duplicate), and DTLS to aiortc. Its receivers' RTCP loops stop: aiortc's
receive path never saw a packet, so they had nothing to report and sent nothing. The edge gets no
feedback from these subscribers, as before, and forwards them its single layer regardless.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import socket
import struct
from typing import Any, Protocol

INTERVAL = 0.05  # seconds between batches: about eight packets a stream queue meanwhile
BATCH = 64  # datagrams one recvmmsg call returns at most
SLOT = 2048  # bytes of buffer a datagram
MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t), ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


_NAME = 128  # sockaddr_storage


def _table(match: Any) -> bytes:
    """A 256-byte translation table: 1 where *match*(byte), else 0."""
    return bytes(1 if match(b) else 0 for b in range(256))


_RTCP = _table(lambda b: 192 <= b <= 223)


def _address(name: bytes) -> tuple[str, int]:
    family = int.from_bytes(name[:2], "little")
    port = int.from_bytes(name[2:4], "big")
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, name[8:24]), port
    return socket.inet_ntop(socket.AF_INET, name[4:8]), port


class _Batch:
    """Buffers for one ``recvmmsg`` call (shared by all sockets of a process, read one at a time)."""

    def __init__(self) -> None:
        self.data = ctypes.create_string_buffer(BATCH * SLOT)
        self.names = ctypes.create_string_buffer(BATCH * _NAME)
        self.iovecs = (_Iovec * BATCH)()
        self.headers = (_Mmsghdr * BATCH)()
        base, names = ctypes.addressof(self.data), ctypes.addressof(self.names)
        for i in range(BATCH):
            self.iovecs[i].iov_base, self.iovecs[i].iov_len = base + i * SLOT, SLOT
            h = self.headers[i].msg_hdr
            h.msg_name, h.msg_namelen = names + i * _NAME, _NAME
            h.msg_iov, h.msg_iovlen = ctypes.pointer(self.iovecs[i]), 1
        self.template = bytes(memoryview(self.headers).cast("B"))  # the headers before a call
        self.header_view = memoryview(self.headers).cast("B")
        self.view = memoryview(self.data).cast("B")
        self.name_view = memoryview(self.names).cast("B")
        self.entry = ctypes.sizeof(_Mmsghdr)
        self.len_at = _Mmsghdr.msg_len.offset
        libc = ctypes.CDLL(None, use_errno=True)
        self.recvmmsg = libc.recvmmsg
        self.recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
        self.recvmmsg.restype = ctypes.c_int
        self.pointer = ctypes.addressof(self.headers)

    def read(self, fd: int) -> int:
        """Datagrams now in the buffers (0: none queued); raises OSError when the socket failed."""
        self.header_view[:] = self.template
        n = self.recvmmsg(fd, self.pointer, BATCH, MSG_DONTWAIT, None)
        if n < 0:
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EINTR):
                return 0
            raise OSError(err, os.strerror(err))
        return n

    def length(self, i: int) -> int:
        return struct.unpack_from("I", self.header_view, i * self.entry + self.len_at)[0]

    def name(self, i: int) -> tuple[str, int]:
        return _address(bytes(self.name_view[i * _NAME:(i + 1) * _NAME]))


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
        self._batch: _Batch | None = None
        self._tables: dict[tuple[frozenset[int], frozenset[int]], tuple[bytes, bytes]] = {}
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

    def _tables_for(self, c: Counts) -> tuple[bytes, bytes]:
        """(audio, video-frame-end) tables over an RTP header's second byte, for *c*'s payload types."""
        key = (frozenset(c._audio_pts), frozenset(c._video_pts))
        tables = self._tables.get(key)
        if tables is None:
            audio, video = key
            tables = self._tables[key] = (_table(lambda b: not 192 <= b <= 223 and b & 0x7F in audio),
                                          _table(lambda b: not 192 <= b <= 223 and b & 0x80 and b & 0x7F in video))
        return tables

    def _drain(self, t: _Taken) -> None:
        if self._batch is None:
            self._batch = _Batch()
        batch, c = self._batch, t.counts
        audio_table, video_table = self._tables_for(c)
        view = batch.view
        while True:
            try:
                n = batch.read(t.sock.fileno())
            except OSError:
                self.taken.remove(t)
                return
            if not n:
                return
            end = n * SLOT
            firsts, seconds = bytes(view[0:end:SLOT]), bytes(view[1:end:SLOT])
            if firsts.translate(_RTP_FIRST).count(1) == n:  # all RTP or RTCP: count in C
                c.packets += n - seconds.translate(_RTCP).count(1)
                c.audio_frames += seconds.translate(audio_table).count(1)
                c.video_frames += seconds.translate(video_table).count(1)
            else:
                for i in range(n):
                    first, second = firsts[i], seconds[i]
                    if 127 < first < 192:
                        if not 192 <= second <= 223:
                            c.packets += 1
                            c.audio_frames += audio_table[second]
                            c.video_frames += video_table[second]
                        continue
                    data = bytes(view[i * SLOT:i * SLOT + batch.length(i)])
                    if first < 2:  # STUN: aioice's consent checks and answers
                        t.protocol.datagram_received(data, batch.name(i))
                    else:
                        t.other(data, 1)
            if n < BATCH:
                return


_RTP_FIRST = _table(lambda b: 127 < b < 192)

#: The process's one drainer.
DRAINER = Drainer()
