"""Every use of aiortc's (and aioice's) private state, in one place.

The forwarding core moves RTP packets between peer connections without depacketizing,
decoding or encoding them. aiortc has no public API for that, so this module reaches into
its internals — and nothing else in ``edge.sfu`` does. aiortc is pinned to 1.16.x; :func:`check`
verifies that everything used here still exists: the edge runs :func:`problem` when it starts
(``/readyz`` fails with the reason when the hooks do not fit) and each room checks again, and
``tests/edge/sfu/test_aiortc_hooks.py`` exercises each hook against real peer connections.

What is hooked, and why:

* **Receiver tap** (publish PC): the receiver's ``_handle_rtp_packet`` is wrapped so each
  parsed :class:`~aiortc.rtp.RtpPacket` reaches the forwarder first; the original then still
  runs for its RTCP duties (receiver reports, NACK, REMB towards the publisher). Its decoder
  thread is stopped as soon as ``receive()`` has started it, and its queue discards frames
  until then, so no decoder is ever created on the edge.
* **Sender RTCP tap** (subscribe PC): the sender's ``_handle_rtcp_packet`` is wrapped so
  PLI/FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) and generic NACK (RFC 4585 §6.2.1) from the
  subscriber reach the forwarder instead of an encoder that does not exist.
* **Sender report counters**: the sender's own RTCP loop keeps sending SR + SDES (RFC 3550
  §6.4.1); the forwarder writes the packet/octet counts and the NTP/RTP timestamp pair it
  should report into the sender's name-mangled fields.
* **Raw send path**: forwarded packets are SRTP-protected with the DTLS transport's session and
  written with ``sendto`` on the nominated ICE pair's UDP socket — no per-packet coroutine.
  Protection calls libsrtp through pylibsrtp's binding with the session's own buffer, skipping
  the per-call allocations of ``Session.protect`` (a quarter of its cost). When the edge's own
  candidate is relayed (aioice's ``TurnTransport``, over UDP, TCP or TLS to the TURN server),
  packets are framed as TURN ChannelData (RFC 8656 §12) and written to the connection to the
  TURN server at once, once aioice has bound the channel; until then, and when the binding is
  due for refresh, they take aioice's own ``sendto`` (which binds first).
* **RTCP tap** (subscribe PC): the DTLS transport's ``_handle_rtcp_data`` is wrapped so each
  decrypted compound RTCP packet reaches the bandwidth estimator whole — aiortc's parser keeps
  no FCI of RTPFB packets, so transport-wide cc feedback (RTPFB fmt 15) would be lost.
* **REMB towards publishers** (publish PC): the receiver's ``_send_rtcp`` is wrapped so the REMB
  aiortc's own estimator sends is capped at what subscribers use, and the edge sends its own
  REMB from the receiver's RTCP SSRC.
* **DTLS** (every PC): aiortc's DTLS context offers only ECDHE-ECDSA cipher suites, so when the
  edge is the DTLS client it cannot talk to a server whose certificate is RSA (GStreamer 1.22:
  "no shared cipher"). Each PC's certificate makes its contexts offer the ECDHE-RSA suites as
  well, and records the alerts sent and received, so a failed handshake can say why.
* **Simulcast** (publish PC): aiortc negotiates neither ``a=simulcast`` nor the RTP stream id
  header extensions, and gives a receiver one NACK generator and jitter buffer for whatever
  arrives. :func:`negotiate_extensions` adds the rid extensions to a transceiver's negotiated
  ones (so the answer names them and the transport parses them), :func:`route_by_mid` routes a
  packet whose SSRC no ``a=ssrc`` announced by its ``mid`` header extension (RFC 8843 §9.2)
  when the payload type alone is ambiguous, and :func:`separate_streams` gives each layer's SSRC
  its own NACK generator and jitter buffer (and tells the receiver which RTX SSRC repairs which).
* **Sender reports** (a recorder's receivers): the receiver's ``_handle_rtcp_packet`` is
  wrapped so each Sender Report's NTP/RTP timestamp pair reaches the recorder's clock.
* **msid / negotiated parameters**: a sender's stream and track ids (``a=msid``) and a
  transceiver's negotiated codecs and header extensions.
* **ICE restart in place** (RFC 8445 §9, RFC 8839 §4.4.1.1.1): aiortc starts an ICE transport
  once and ignores new credentials in a later offer or answer. :func:`begin_ice_restart` gives
  aioice's connection new local credentials and an empty check list (what the next offer or
  answer says); :func:`start_ice_checks` takes the peer's new credentials and runs the checks
  again on the same sockets. The nominated pair stays until the checks nominate a new one, so
  DTLS, SRTP and media keep their session and flow on the old path meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import struct
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiortc
import pylibsrtp
from aioice.turn import TurnClientProtocol, TurnClientTcpProtocol, TurnClientUdpProtocol, TurnTransport
from aioice.utils import random_string
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
)
from OpenSSL import SSL

log = logging.getLogger(__name__)

SUPPORTED_AIORTC = "1.16."

_RECEIVER = "_RTCRtpReceiver__"
_SENDER = "_RTCRtpSender__"

#: Attributes of a fresh ``RTCRtpReceiver`` this module uses.
RECEIVER_ATTRS = (f"{_RECEIVER}started", f"{_RECEIVER}decoder_queue", f"{_RECEIVER}decoder_thread",
                  f"{_RECEIVER}stop_decoder", "_handle_rtp_packet", "_send_rtcp_pli", "receive",
                  f"{_RECEIVER}nack_generator", f"{_RECEIVER}jitter_buffer", f"{_RECEIVER}rtx_ssrc",
                  f"{_RECEIVER}rtcp_ssrc", "_send_rtcp", "_handle_rtcp_packet")
#: Attributes of a fresh ``RTCRtpSender`` this module uses.
SENDER_ATTRS = (f"{_SENDER}ntp_timestamp", f"{_SENDER}rtp_timestamp", f"{_SENDER}packet_count",
                f"{_SENDER}octet_count", "_handle_rtcp_packet", "_ssrc", "_stream_id", "_track_id")
#: Attributes of a fresh ``RTCRtpTransceiver`` this module uses.
TRANSCEIVER_ATTRS = ("_codecs", "_headerExtensions")
#: Attributes of a fresh ``RTCPeerConnection`` this module uses.
PC_ATTRS = ("_RTCPeerConnection__createTransceiver", "_RTCPeerConnection__certificates")
#: Attributes of aiortc's ``RTCCertificate`` this module uses.
CERTIFICATE_ATTRS = ("_create_ssl_context",)
#: Attributes of a fresh ``RTCDtlsTransport`` this module uses.
DTLS_ATTRS = ("_tx_srtp", "transport", "_rtp_router", "_handle_rtcp_data")
#: Attributes of a DTLS transport's RTP router this module uses.
ROUTER_ATTRS = ("route_rtp", "mid_table", "ssrc_table")
#: Attributes of aiortc's ICE transport this module uses (checked on a live one by the tests).
ICE_ATTRS = ("_connection", "iceGatherer")
#: Attributes of aiortc's ICE gatherer an ICE restart uses.
GATHERER_ATTRS = ("_remote_candidates_end",)
#: Attributes of a fresh aioice ``Connection`` an ICE restart uses.
CONNECTION_ATTRS = ("_nominated", "_check_list", "_check_list_done", "_check_list_state", "_nominating",
                    "_remote_candidates", "_remote_candidates_end", "_local_username", "_local_password",
                    "_local_candidates_end", "_query_consent_task", "_check_list_maybe_complete", "_closed",
                    "remote_username", "remote_password", "connect", "close")
#: Attributes of a pylibsrtp ``Session`` this module uses.
SRTP_ATTRS = ("_srtp", "_cdata", "_buffer")
#: Attributes of aioice's ``TurnTransport`` (a relayed candidate) and its TURN client protocol.
TURN_TRANSPORT_ATTRS = ("_TurnTransport__inner_protocol", "sendto")
TURN_CLIENT_ATTRS = ("peer_to_channel", "channel_refresh_at", "_send")


class HookError(RuntimeError):
    """aiortc's internals are not what this module was written against."""


def check(receiver: Any = None, sender: Any = None, transceiver: Any = None, dtls: Any = None,
          pc: Any = None) -> None:
    """Raise :class:`HookError` naming every private attribute that is missing.

    Without arguments, builds throwaway objects from a fresh peer connection's pieces (needs a
    running event loop). Called once per :class:`~edge.sfu.room.Room`.
    """
    if not aiortc.__version__.startswith(SUPPORTED_AIORTC):
        raise HookError(f"edge.sfu was written against aiortc {SUPPORTED_AIORTC}x, found {aiortc.__version__}")
    if receiver is None or sender is None or transceiver is None or dtls is None or pc is None:
        pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
        t = pc.addTransceiver("video", direction="sendonly")
        receiver, sender, transceiver, dtls = t.receiver, t.sender, t, t.sender.transport
    missing = [f"RTCPeerConnection.{a}" for a in PC_ATTRS if not hasattr(pc, a)]
    for certificate in getattr(pc, "_RTCPeerConnection__certificates", [])[:1]:
        missing += [f"RTCCertificate.{a}" for a in CERTIFICATE_ATTRS if not hasattr(certificate, a)]
    missing += [f"RTCRtpReceiver.{a}" for a in RECEIVER_ATTRS if not hasattr(receiver, a)]
    missing += [f"RTCRtpSender.{a}" for a in SENDER_ATTRS if not hasattr(sender, a)]
    missing += [f"RTCRtpTransceiver.{a}" for a in TRANSCEIVER_ATTRS if not hasattr(transceiver, a)]
    missing += [f"RTCDtlsTransport.{a}" for a in DTLS_ATTRS if not hasattr(dtls, a)]
    router = getattr(dtls, "_rtp_router", None)
    missing += [f"RtpRouter.{a}" for a in ROUTER_ATTRS if not hasattr(router, a)]
    missing += [f"RTCIceTransport.{a}" for a in ICE_ATTRS if not hasattr(dtls.transport, a)]
    gatherer = getattr(dtls.transport, "iceGatherer", None)
    missing += [f"RTCIceGatherer.{a}" for a in GATHERER_ATTRS if not hasattr(gatherer, a)]
    connection = getattr(dtls.transport, "_connection", None)
    missing += [f"aioice.Connection.{a}" for a in CONNECTION_ATTRS if not hasattr(connection, a)]
    session = pylibsrtp.Session(pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    missing += [f"pylibsrtp.Session.{a}" for a in SRTP_ATTRS if not hasattr(session, a)]
    binding = _binding()
    missing += [f"pylibsrtp._binding.{a}" for a in ("ffi", "lib") if not hasattr(binding, a)]
    if not hasattr(getattr(binding, "lib", None), "srtp_protect"):
        missing.append("pylibsrtp._binding.lib.srtp_protect")
    inner = TurnClientUdpProtocol(("127.0.0.1", 3478), username=None, password=None, lifetime=600,
                                  channel_refresh_time=500)
    missing += [f"aioice.turn.TurnTransport.{a}" for a in TURN_TRANSPORT_ATTRS if not hasattr(TurnTransport(inner), a)]
    missing += [f"aioice.turn.TurnClientUdpProtocol.{a}" for a in TURN_CLIENT_ATTRS if not hasattr(inner, a)]
    if missing:
        raise HookError("aiortc (aioice, pylibsrtp) internals changed; missing: " + ", ".join(missing))


async def problem() -> str | None:
    """Why the hooks do not fit the installed aiortc, or None when they do (for start-up)."""
    try:
        pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    except Exception as exc:  # noqa: BLE001 - whatever breaks here, the forwarding core cannot run
        return f"cannot create a peer connection: {exc!r}"
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        check(receiver=t.receiver, sender=t.sender, transceiver=t, dtls=t.sender.transport, pc=pc)
        return None
    except HookError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return f"cannot inspect aiortc: {exc!r}"
    finally:
        await pc.close()


# --- publish side: the receiver tap ------------------------------------------------------------

def on_new_transceiver(pc: aiortc.RTCPeerConnection, callback: Callable[[RTCRtpTransceiver], None]) -> None:
    """Call *callback* with every transceiver *pc* creates, as soon as it exists (before any
    task of the peer connection can start its receiver)."""
    name = "_RTCPeerConnection__createTransceiver"
    original = getattr(pc, name)

    def create(*args: Any, **kwargs: Any) -> RTCRtpTransceiver:
        transceiver: RTCRtpTransceiver = original(*args, **kwargs)
        callback(transceiver)
        return transceiver

    setattr(pc, name, create)


class _DiscardFrames(queue.Queue[Any]):
    """A decoder queue that drops encoded frames and lets only the stop signal (None) through."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)


def tap_receiver(receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None],
                 on_start: Callable[[RTCRtpReceiveParameters], None]) -> None:
    """Route the receiver's RTP packets to *on_packet* and never decode them.

    Must be called before the receiver starts — from :func:`on_new_transceiver`, as the
    transceiver is created. *on_start* gets the receive parameters (codecs, RTX SSRCs) once it
    starts.
    """
    if getattr(receiver, f"{_RECEIVER}started"):
        raise HookError("tap_receiver: the receiver has already started")
    setattr(receiver, f"{_RECEIVER}decoder_queue", _DiscardFrames())
    original_receive = receiver.receive
    original_handle = receiver._handle_rtp_packet

    async def receive(parameters: RTCRtpReceiveParameters) -> None:
        started = getattr(receiver, f"{_RECEIVER}started")
        await original_receive(parameters)
        if not started:
            # receive() started a decoder thread: stop it; nothing will be decoded.
            getattr(receiver, f"{_RECEIVER}stop_decoder")()
            on_start(parameters)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_packet(packet)
        await original_handle(packet, arrival_time_ms)

    receiver.receive = receive  # type: ignore[method-assign]
    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]


def tap_sender_reports(receiver: RTCRtpReceiver, on_report: Callable[[int, int, int], None]) -> None:
    """Give *on_report* ``(ssrc, ntp_timestamp, rtp_timestamp)`` of every RTCP Sender Report
    (RFC 3550 §6.4.1) *receiver* gets; the receiver still handles it (the recorder puts its
    tracks on one clock with them)."""
    original = receiver._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            on_report(packet.ssrc, packet.sender_info.ntp_timestamp, packet.sender_info.rtp_timestamp)
        await original(packet)

    receiver._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]


def negotiate_extensions(transceiver: RTCRtpTransceiver, extensions: list[RTCRtpHeaderExtensionParameters]) -> None:
    """Add *extensions* (with the offer's ids) to what *transceiver* negotiated: called between
    ``setRemoteDescription`` and ``createAnswer``, the answer names them and the transport parses
    them (aiortc's :class:`~aiortc.rtp.HeaderExtensionsMap` knows the rid URIs)."""
    have = {e.uri for e in transceiver._headerExtensions}
    transceiver._headerExtensions = transceiver._headerExtensions + [e for e in extensions if e.uri not in have]


def route_by_mid(dtls: RTCDtlsTransport) -> None:
    """Route an RTP packet whose SSRC is unknown and whose payload type more than one receiver
    takes by its ``mid`` header extension, and remember its SSRC (RFC 8843 §9.2). Idempotent."""
    router = dtls._rtp_router
    if getattr(router, "_edge_routes_by_mid", False):
        return
    original = router.route_rtp

    def route_rtp(packet: RtpPacket) -> Any:
        receiver = original(packet)
        if receiver is None and packet.extensions.mid is not None and packet.ssrc not in router.ssrc_table:
            receiver = router.mid_table.get(packet.extensions.mid)
            if receiver is not None:
                router.ssrc_table[packet.ssrc] = receiver
        return receiver

    router.route_rtp = route_rtp  # type: ignore[method-assign]
    router._edge_routes_by_mid = True  # type: ignore[attr-defined]


def separate_streams(receiver: RTCRtpReceiver) -> Callable[[int, int], None]:
    """Give every SSRC reaching *receiver* (a simulcast m-section's layers) its own NACK generator
    and jitter buffer, so one layer's sequence numbers never look like another's losses.
    Returns ``map_rtx(rtx_ssrc, ssrc)``: *rtx_ssrc* repairs *ssrc* (learnt from the packets'
    repaired-rtp-stream-id, as no ``a=ssrc-group:FID`` says it)."""
    streams: dict[int, tuple[NackGenerator, JitterBuffer]] = {}
    rtx: dict[int, int] = getattr(receiver, f"{_RECEIVER}rtx_ssrc")
    inner = receiver._handle_rtp_packet
    d = receiver.__dict__

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        ssrc = rtx.get(packet.ssrc, packet.ssrc)
        state = streams.get(ssrc)
        if state is None:
            state = streams[ssrc] = (NackGenerator(), JitterBuffer(capacity=512, is_video=True))
        d[f"{_RECEIVER}nack_generator"], d[f"{_RECEIVER}jitter_buffer"] = state
        await inner(packet, arrival_time_ms)

    def map_rtx(rtx_ssrc: int, ssrc: int) -> None:
        rtx[rtx_ssrc] = ssrc

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]
    return map_rtx


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> Awaitable[None]:
    """Send a Picture Loss Indication (RFC 4585 §6.3.1) for *media_ssrc* to the publisher."""
    return receiver._send_rtcp_pli(media_ssrc)


def cap_remb(receiver: RTCRtpReceiver, cap: Callable[[], int | None]) -> None:
    """Lower the REMB aiortc's receiver-side estimator sends the publisher to ``cap()`` bits/s
    (None: no cap)."""
    original = receiver._send_rtcp

    async def send_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            limit = cap()
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                bitrate, ssrcs = 0, []
            if limit is not None and bitrate > limit:
                packet = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=packet.ssrc, media_ssrc=0,
                                        fci=pack_remb_fci(limit, ssrcs))
        await original(packet)

    receiver._send_rtcp = send_rtcp  # type: ignore[method-assign]


def send_remb(receiver: RTCRtpReceiver, bitrate: int, ssrcs: list[int]) -> Awaitable[None] | None:
    """Send a REMB (draft-alvestrand-rmcat-remb) for *ssrcs* to the publisher from the
    receiver's RTCP SSRC; None when the receiver has not started."""
    rtcp_ssrc = getattr(receiver, f"{_RECEIVER}rtcp_ssrc")
    if rtcp_ssrc is None:
        return None
    return receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0,
                                              fci=pack_remb_fci(bitrate, ssrcs)))


# --- subscribe side: the sender ----------------------------------------------------------------

@dataclass(frozen=True)
class SenderFeedback:
    """What a subscriber asked of a forwarded stream, through RTCP feedback."""
    on_keyframe: Callable[[], None]
    on_nack: Callable[[list[int]], None]


def tap_sender(sender: RTCRtpSender, feedback: SenderFeedback) -> None:
    """Send PLI/FIR and NACK for the sender's SSRC to *feedback*; other RTCP (receiver
    reports, REMB) still reaches the sender for its statistics."""
    original = sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            feedback.on_keyframe()
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            feedback.on_nack(list(packet.lost))
        else:
            await original(packet)

    sender._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]


def guard_rtcp(dtls: RTCDtlsTransport) -> None:
    """Drop a compound RTCP packet aiortc cannot route instead of letting its error end the DTLS
    transport: aiortc's parser catches ``ValueError`` but its REMB routing unpacks the FCI's SSRC
    list with :mod:`struct`, so a REMB whose SSRC count lies would stop the transport's receive
    loop (and the peer connection with it). Guarding a transport again does nothing."""
    if dtls.__dict__.get("_edge_rtcp_guarded"):
        return
    dtls.__dict__["_edge_rtcp_guarded"] = True
    original = dtls._handle_rtcp_data

    async def handle_rtcp_data(data: bytes) -> None:
        try:
            await original(data)
        except (struct.error, ValueError, IndexError) as exc:
            log.debug("malformed RTCP dropped: %s", exc)

    dtls._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]


def tap_rtcp(dtls: RTCDtlsTransport, on_rtcp: Callable[[bytes], None]) -> None:
    """Give every decrypted compound RTCP packet the transport receives to *on_rtcp* first (then
    aiortc handles it as usual). Tapping a transport again replaces the callback."""
    taps = dtls.__dict__.setdefault("_edge_rtcp_taps", [])
    if taps:
        taps[0] = on_rtcp
        return
    taps.append(on_rtcp)
    original = dtls._handle_rtcp_data

    async def handle_rtcp_data(data: bytes) -> None:
        try:
            taps[0](data)
        except Exception:  # noqa: BLE001 — a bug in the estimator must not stop RTCP
            log.exception("the RTCP tap failed")
        await original(data)

    dtls._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC the sender announced in SDP (``a=ssrc``)."""
    return sender._ssrc


def report_sent(sender: RTCRtpSender, ntp_timestamp: int, rtp_timestamp: int, packets: int,
                octets: int) -> None:
    """Set what the sender's next RTCP Sender Report (RFC 3550 §6.4.1) says."""
    d = sender.__dict__
    d[f"{_SENDER}ntp_timestamp"] = ntp_timestamp
    d[f"{_SENDER}rtp_timestamp"] = rtp_timestamp
    d[f"{_SENDER}packet_count"] = packets
    d[f"{_SENDER}octet_count"] = octets


def sender_report_fields(sender: RTCRtpSender) -> tuple[int, int, int, int]:
    """(ntp, rtp, packets, octets) as the sender's next SR will say them."""
    d = sender.__dict__
    return (d[f"{_SENDER}ntp_timestamp"], d[f"{_SENDER}rtp_timestamp"], d[f"{_SENDER}packet_count"],
            d[f"{_SENDER}octet_count"])


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """What the next offer says in the m-section's ``a=msid:<stream id> <track id>``."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def negotiated(transceiver: RTCRtpTransceiver) -> tuple[list[RTCRtpCodecParameters],
                                                        list[RTCRtpHeaderExtensionParameters]]:
    """The codecs (first one is what is sent) and header extensions last negotiated."""
    return transceiver._codecs, transceiver._headerExtensions


# --- the raw send path -------------------------------------------------------------------------

def _binding() -> Any:
    from pylibsrtp import _binding

    return _binding


def srtp_protector(session: pylibsrtp.Session) -> Callable[[bytes], bytes]:
    """``session.protect`` (RFC 3711) without its per-packet allocations and checks."""
    binding = _binding()
    srtp, cdata, buffer = session._srtp[0], session._cdata, session._buffer
    length = binding.ffi.new("int *")
    protect = binding.lib.srtp_protect
    room = len(cdata) - pylibsrtp.SRTP_MAX_TRAILER_LEN

    def protect_packet(data: bytes, _keep: pylibsrtp.Session = session) -> bytes:
        n = len(data)
        if n > room:
            raise ValueError(f"packet of {n} bytes is too long for SRTP")
        length[0] = n
        buffer[0:n] = data
        rc = protect(srtp, cdata, length)
        if rc:
            raise pylibsrtp.Error(f"srtp_protect failed with error {rc}")
        protected: bytes = buffer[0:length[0]]
        return protected

    return protect_packet


@dataclass(frozen=True)
class SendPath:
    """SRTP-protect and write one RTP packet, synchronously."""
    protect: Callable[[bytes], bytes]
    sendto: Callable[[bytes, Any], None]
    addr: tuple[str, int]
    #: Bytes the socket's transport could not hand to the kernel yet (backpressure).
    backlog: Callable[[], int]
    #: How packets leave: "udp" (the edge's own socket), "turn/udp" or "turn/tcp" (relayed by the
    #: edge's TURN server; TLS counts as tcp).
    kind: str = "udp"


def send_path(dtls: RTCDtlsTransport) -> SendPath | None:
    """The DTLS transport's SRTP session and nominated pair, or None until both exist."""
    if dtls.state != "connected":
        return None
    srtp = getattr(dtls, "_tx_srtp", None)
    connection = getattr(dtls.transport, "_connection", None)
    pair = getattr(connection, "_nominated", {}).get(1) if connection is not None else None
    if srtp is None or pair is None:
        return None
    transport = pair.protocol.transport
    if transport is None:
        return None
    if isinstance(transport, TurnTransport):
        return relayed_send_path(srtp_protector(srtp), transport, pair.remote_addr)
    if transport.is_closing():
        return None
    return SendPath(protect=srtp_protector(srtp), sendto=transport.sendto, addr=pair.remote_addr,
                    backlog=transport.get_write_buffer_size)



# --- ICE restart in place ----------------------------------------------------------------------

#: Seconds a restart's checks may take before the connection is given up (closed: it fails).
ICE_RESTART_TIMEOUT = 20.0

_restarts: weakref.WeakKeyDictionary[Any, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def ice_credentials(dtls: RTCDtlsTransport) -> tuple[str, str, str | None, str | None]:
    """(local ufrag, local pwd, remote ufrag, remote pwd) the ICE connection under *dtls* uses."""
    connection = dtls.transport._connection
    return (connection.local_username, connection.local_password, connection.remote_username,
            connection.remote_password)


def ice_restart_refusal(dtls: RTCDtlsTransport) -> str:
    """Why ICE cannot be restarted in place on *dtls* ("" when it can): only an established
    connection (ICE completed, DTLS connected) keeps its session across a restart."""
    ice = dtls.transport
    if ice.state != "completed" or dtls.state != "connected" or ice._connection._closed:
        return f"the connection is not established (ICE {ice.state}, DTLS {dtls.state})"
    return ""


def begin_ice_restart(dtls: RTCDtlsTransport) -> None:
    """New local ICE credentials and an empty check list for the connection under *dtls*: the next
    offer or answer aiortc writes carries them. Its sockets (local candidates) and its nominated
    pair stay, so DTLS and media keep flowing on the old path. Raises :class:`HookError` when
    :func:`ice_restart_refusal` says no."""
    why = ice_restart_refusal(dtls)
    if why:
        raise HookError(why)
    ice = dtls.transport
    connection = ice._connection
    running = _restarts.pop(connection, None)
    if running is not None:
        running.cancel()
    consent = connection._query_consent_task
    if consent is not None:
        consent.cancel()
        connection._query_consent_task = None
    for pair in connection._check_list:
        if pair.task is not None:
            pair.task.cancel()
    connection._check_list = []
    connection._check_list_done = False
    connection._check_list_state = asyncio.Queue()
    connection._nominating = set()
    connection._remote_candidates = []
    connection._remote_candidates_end = False
    ice.iceGatherer._remote_candidates_end = False
    connection._local_username = random_string(4)
    connection._local_password = random_string(22)


def start_ice_checks(dtls: RTCDtlsTransport, remote_ufrag: str, remote_pwd: str,
                     on_done: Callable[[bool], None], timeout: float = ICE_RESTART_TIMEOUT) -> None:
    """After :func:`begin_ice_restart`: check the pairs again with the peer's new credentials
    (their candidates follow through aiortc, in the SDP or trickled). *on_done* gets True once a
    new pair is nominated (the old one is dropped), or False when the checks failed or took over
    *timeout* seconds — the connection is then closed, so the peer connection fails."""
    ice = dtls.transport
    connection = ice._connection
    connection.remote_username, connection.remote_password = remote_ufrag, remote_pwd
    old = connection._nominated.get(1)
    complete = type(connection)._check_list_maybe_complete

    def maybe_complete() -> bool:
        # The old pair is still nominated (it carries media meanwhile): only a new one completes.
        if connection._nominated.get(1) is old:
            return False
        connection.__dict__.pop("_check_list_maybe_complete", None)
        return bool(complete(connection))

    connection._check_list_maybe_complete = maybe_complete  # type: ignore[method-assign]

    async def run() -> None:
        try:
            async with asyncio.timeout(timeout):
                await connection.connect()
            ok = True
        except (ConnectionError, TimeoutError) as exc:
            log.info("ICE restart failed: %s", exc or "no pair nominated in time")
            ok = False
        finally:
            connection.__dict__.pop("_check_list_maybe_complete", None)
            if _restarts.get(connection) is asyncio.current_task():
                del _restarts[connection]
        if not ok:
            await connection.close()   # the ICE transport (and so the peer connection) fails
        on_done(ok)

    _restarts[connection] = asyncio.get_running_loop().create_task(run(), name="ice-restart")


def selected_pair(dtls: RTCDtlsTransport) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """(local address, remote address) of the pair ICE nominated, or None."""
    pair = dtls.transport._connection._nominated.get(1)
    return None if pair is None else (pair.local_addr, pair.remote_addr)


_CHANNEL_DATA = struct.Struct("!HH")


def relayed_send_path(protect: Callable[[bytes], bytes], relay: TurnTransport,
                      addr: tuple[str, int]) -> SendPath | None:
    """Send to *addr* through *relay* (aioice's TURN allocation) without a task per packet."""
    client: TurnClientProtocol = relay.__dict__["_TurnTransport__inner_protocol"]
    server = client.transport
    if server is None or server.is_closing():
        return None
    channels, refresh_at, write, bind_and_send = client.peer_to_channel, client.channel_refresh_at, client._send, \
        relay.sendto
    pack = _CHANNEL_DATA.pack

    def sendto(data: bytes, peer: tuple[str, int]) -> None:
        channel = channels.get(peer)
        if channel is None or time.time() > refresh_at[channel]:
            bind_and_send(data, peer)  # aioice binds (or refreshes) the channel, then sends
        else:
            write(pack(channel, len(data)) + data)

    kind = "turn/tcp" if isinstance(client, TurnClientTcpProtocol) else "turn/udp"
    backlog: Callable[[], int] = server.get_write_buffer_size  # type: ignore[union-attr]  # UDP ones have it too
    return SendPath(protect=protect, sendto=sendto, addr=addr, backlog=backlog, kind=kind)


# --- DTLS: cipher suites and failure reasons ---------------------------------------------------

#: aiortc's ECDHE-ECDSA suites, each followed by its ECDHE-RSA twin. Which applies is decided by
#: the DTLS server's certificate; the edge's own certificate stays ECDSA.
DTLS_CIPHERS = (b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                b"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA")

#: TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2).
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
          40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
          44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
          47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
          51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
          86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
          110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required",
          120: "no_application_protocol"}

_SSL_CB_READ, _SSL_CB_WRITE, _SSL_CB_HANDSHAKE_DONE, _SSL_CB_ALERT = 0x04, 0x08, 0x20, 0x4000


@dataclass
class DtlsRecord:
    """What the DTLS handshakes of one peer connection went through."""
    #: The first alert other than close_notify: ("sent" | "received", description).
    alert: tuple[str, str] | None = None
    handshake_done: bool = False


def prepare_dtls(pc: aiortc.RTCPeerConnection) -> DtlsRecord:
    """Make *pc*'s DTLS accept RSA-certificate servers and record its alerts. Call it right after
    creating the PC (before any DTLS transport starts)."""
    record = DtlsRecord()

    def on_info(connection: SSL.Connection, where: int, ret: int) -> None:
        if where & _SSL_CB_HANDSHAKE_DONE:
            record.handshake_done = True
        elif where & _SSL_CB_ALERT and record.alert is None and ret & 0xFF:
            description = ALERTS.get(ret & 0xFF, f"alert {ret & 0xFF}")
            record.alert = ("received" if where & _SSL_CB_READ else "sent", description)

    for certificate in pc._RTCPeerConnection__certificates:  # type: ignore[attr-defined]
        original = certificate._create_ssl_context

        def create(*args: Any, _original: Callable[..., SSL.Context] = original, **kwargs: Any) -> SSL.Context:
            context = _original(*args, **kwargs)
            context.set_cipher_list(DTLS_CIPHERS)
            context.set_info_callback(on_info)
            return context

        certificate._create_ssl_context = create
    return record


def failure_reason(pc: aiortc.RTCPeerConnection, record: DtlsRecord) -> str:
    """Why *pc* failed, in words: ICE, or DTLS (with the alert when there was one)."""
    transports = {t.receiver.transport for t in pc.getTransceivers()}
    ice_states = {dtls.transport.state for dtls in transports}
    dtls_states = {dtls.state for dtls in transports}
    if "failed" in ice_states:
        if record.handshake_done:
            return "ICE: the connection was lost (consent checks went unanswered)"
        return "ICE: no candidate pair answered connectivity checks"
    if "failed" in dtls_states:
        if record.alert is not None:
            direction, description = record.alert
            return f"DTLS: alert {direction}: {description}"
        if record.handshake_done:
            return "DTLS: the peer's certificate does not match its a=fingerprint, or no SRTP profile was agreed"
        return "DTLS: the handshake failed"
    return "the connection failed"
