"""The hooks into aiortc's private state: they fail loudly when aiortc's internals change, and each
one does what the forwarder relies on, against real peer connections."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcdtlstransport import SRTP_AES128_CM_SHA1_80
from OpenSSL import SSL

from edge.sfu import aiortc_hooks as hooks
from tests.edge.sfu.client import Meeting
from tests.support.util import eventually


async def test_the_installed_aiortc_has_everything_the_hooks_use() -> None:
    assert aiortc.__version__.startswith("1.16.")
    hooks.check()


async def test_missing_internals_are_named() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    t = pc.addTransceiver("audio")
    with pytest.raises(hooks.HookError) as refused:
        hooks.check(receiver=object(), sender=t.sender, transceiver=t, dtls=t.sender.transport, pc=pc)
    message = str(refused.value)
    assert "RTCRtpReceiver._RTCRtpReceiver__decoder_queue" in message
    assert "RTCRtpReceiver._handle_rtp_packet" in message and "RTCRtpSender" not in message


async def test_missing_turn_internals_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.turn

    monkeypatch.delattr(aioice.turn.TurnTransport, "sendto")
    monkeypatch.delattr(aioice.turn.TurnClientUdpProtocol, "_send")
    with pytest.raises(hooks.HookError) as refused:
        hooks.check()
    assert "aioice.turn.TurnTransport.sendto" in str(refused.value)
    assert "aioice.turn.TurnClientUdpProtocol._send" in str(refused.value)


async def test_another_aiortc_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(hooks.HookError, match=r"written against aiortc 1\.16\.x, found 1\.17\.0"):
        hooks.check()


async def test_a_started_receiver_cannot_be_tapped(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    await alice.publish()
    edge = meeting.room.peers["alice"].publish_pc.getTransceivers()[0].receiver
    await eventually(lambda: edge._RTCRtpReceiver__started, what="the edge receiver started")
    with pytest.raises(hooks.HookError, match="already started"):
        hooks.tap_receiver(edge, lambda p: None, lambda p: None)


async def test_edge_receivers_have_no_decoder_thread(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 5, timeout=10, what="video at bob")
    edge = meeting.room.peers["alice"].publish_pc.getTransceivers()
    assert [t.receiver._RTCRtpReceiver__decoder_thread for t in edge] == [None, None]
    clients = bob.subscribe_pc.getTransceivers()  # a plain aiortc receiver does have one
    assert all(t.receiver._RTCRtpReceiver__decoder_thread is not None for t in clients)


async def test_send_path_and_sender_reports(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    unconnected = RTCPeerConnection(RTCConfiguration(iceServers=[])).addTransceiver("video").sender.transport
    assert hooks.send_path(unconnected) is None

    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 30, timeout=10, what="video at bob")
    edge_pc = meeting.room.peers["bob"].subscriber.pc
    path = hooks.send_path(edge_pc.getTransceivers()[0].sender.transport)
    assert path is not None and path.backlog() == 0
    client_ice = bob.subscribe_pc.getTransceivers()[0].receiver.transport.transport
    assert path.addr in {(c.ip, c.port) for c in client_ice.iceGatherer.getLocalCandidates()}

    # the sender reports what the down track sent; bob's receiver gets those reports
    sender = edge_pc.getTransceivers()[1].sender
    dt = next(d for d in meeting.room.peers["bob"].egress.downtracks if d.ssrc == hooks.sender_ssrc(sender))
    await eventually(lambda: hooks.sender_report_fields(sender)[2] > 0, what="a refreshed sender report")
    ntp, rtp, packets, octets = hooks.sender_report_fields(sender)
    assert 0 < packets <= dt.packets and 0 < octets <= dt.octets and ntp > 0

    async def reported() -> int:
        stats = await bob.subscribe_pc.getTransceivers()[1].receiver.getStats()
        return sum(s.packetsSent for s in stats.values() if s.type == "remote-outbound-rtp")

    await eventually(reported, timeout=5, what="bob received a sender report with packet counts")


async def test_msid_and_negotiated_parameters(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.answers >= 1, what="bob answered")
    for t in meeting.room.peers["bob"].subscriber.pc.getTransceivers():
        codecs, extensions = hooks.negotiated(t)
        assert codecs[0].name in ("opus", "VP8")
        assert "urn:ietf:params:rtp-hdrext:sdes:mid" in {e.uri for e in extensions}
        assert t.sender._stream_id == "alice"
        assert t.sender._track_id in {x.track_id for x in meeting.room.tracks()}


def test_the_lean_srtp_protector_matches_pylibsrtp() -> None:
    import os

    from pylibsrtp import Policy, Session

    key = os.urandom(30)
    ours = hooks.srtp_protector(Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)))
    theirs = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    for seq in range(3):
        packet = bytes([0x80, 96, 0, seq]) + bytes(8) + os.urandom(1000)
        assert ours(packet) == theirs.protect(packet)
    with pytest.raises(ValueError, match="too long for SRTP"):
        ours(bytes(1400))


async def test_missing_ice_restart_internals_are_named() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    t = pc.addTransceiver("video")
    connection = t.sender.transport.transport._connection
    del connection._check_list
    del t.sender.transport.transport.iceGatherer._remote_candidates_end
    with pytest.raises(hooks.HookError) as refused:
        hooks.check(receiver=t.receiver, sender=t.sender, transceiver=t, dtls=t.sender.transport, pc=pc)
    assert "aioice.Connection._check_list" in str(refused.value)
    assert "RTCIceGatherer._remote_candidates_end" in str(refused.value)
    connection._check_list = []
    await pc.close()


async def test_ice_restarts_only_on_an_established_connection(meeting: Meeting) -> None:
    fresh = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    dtls = fresh.addTransceiver("video").sender.transport
    assert "not established (ICE new, DTLS new)" in hooks.ice_restart_refusal(dtls)
    with pytest.raises(hooks.HookError, match="not established"):
        hooks.begin_ice_restart(dtls)
    await fresh.close()

    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 5, timeout=10, what="video at bob")
    edge = meeting.room.peers["alice"].publish_pc.getTransceivers()[0].receiver.transport
    assert hooks.ice_restart_refusal(edge) == ""
    local_ufrag, local_pwd, remote_ufrag, remote_pwd = hooks.ice_credentials(edge)
    hooks.begin_ice_restart(edge)
    assert hooks.ice_credentials(edge)[:2] != (local_ufrag, local_pwd)      # new local credentials
    assert hooks.ice_credentials(edge)[2:] == (remote_ufrag, remote_pwd)    # the peer's: until it says new ones
    assert hooks.selected_pair(edge) is not None                            # the path stays meanwhile


async def test_a_missing_certificate_hook_is_named() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    t = pc.addTransceiver("video")
    pc._RTCPeerConnection__certificates = [object()]
    with pytest.raises(hooks.HookError, match=r"RTCCertificate\._create_ssl_context"):
        hooks.check(receiver=t.receiver, sender=t.sender, transceiver=t, dtls=t.sender.transport, pc=pc)
    await pc.close()


async def test_prepared_dtls_offers_rsa_suites_and_records_nothing_yet() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    record = hooks.prepare_dtls(pc)
    certificate = pc._RTCPeerConnection__certificates[0]
    context = certificate._create_ssl_context(srtp_profiles=[SRTP_AES128_CM_SHA1_80])
    names = SSL.Connection(context).get_cipher_list()
    assert "ECDHE-RSA-AES128-GCM-SHA256" in names and "ECDHE-ECDSA-AES128-GCM-SHA256" in names
    assert record.alert is None and not record.handshake_done
    await pc.close()


async def test_the_rtcp_tap_sees_feedback_whole_and_remb_reaches_the_publisher(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 5, timeout=30, what="video at bob")
    seen: list[bytes] = []
    dtls = meeting.room.peers["bob"].subscriber.pc.getTransceivers()[0].sender.transport
    hooks.tap_rtcp(dtls, seen.append)  # replaces the room's own tap
    await eventually(lambda: any(p[1] in (200, 201) for p in seen), timeout=10, what="bob's RTCP, raw")
    # the edge's REMB, and aiortc's own capped, reach alice's encoder
    peer = meeting.room.peers["alice"]
    feed = next(p.feed for p in peer.publications.values() if p.source is not None and p.source.kind == "video")
    peer.remb_cap = 300_000
    sender = next(t.sender for t in alice.publish_pc.getTransceivers() if t.kind == "video")
    await hooks.send_remb(feed.receiver, 300_000, feed.ssrcs)  # type: ignore[misc]
    await eventually(lambda: sender._RTCRtpSender__encoder.target_bitrate <= 300_000, timeout=10,
                     what="alice's encoder follows the REMB")


async def test_missing_feedback_internals_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    monkeypatch.delattr(RTCDtlsTransport, "_handle_rtcp_data")
    monkeypatch.delattr(aiortc.RTCRtpReceiver, "_send_rtcp")
    with pytest.raises(hooks.HookError) as refused:
        hooks.check()
    assert "RTCDtlsTransport._handle_rtcp_data" in str(refused.value)
    assert "RTCRtpReceiver._send_rtcp" in str(refused.value)
