"""What other WebRTC stacks do that aiortc does not, reproduced with real aiortc peers: offers with
``a=rtcp-mux`` but no ``a=rtcp:`` line (GStreamer, libdatachannel), DTLS certificates that are RSA
(GStreamer 1.22), and the warning the edge logs when a peer connection fails or an offer is refused."""

from __future__ import annotations

import datetime
import logging
import re

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcdtlstransport import RTCCertificate, SRTPProtectionProfile
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

from edge.sfu import sdp
from edge.sfu.interfaces import SdpError
from tests.edge.sfu.client import ALL, Client, Meeting
from tests.support.records import Records
from tests.support.util import eventually

RSA_AND_ECDSA = (b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"
                 b"ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA")


class RsaCertificate(RTCCertificate):
    """A DTLS certificate with an RSA key, as GStreamer 1.22 makes; *ciphers* are what its
    contexts offer (as client) or accept (as server)."""

    ciphers = RSA_AND_ECDSA

    @classmethod
    def generate(cls, ciphers: bytes = RSA_AND_ECDSA) -> RsaCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gstreamer-like")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
        certificate = cls(key=key, cert=cert)  # type: ignore[arg-type]
        certificate.ciphers = ciphers
        return certificate

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(self.ciphers)
        return context


class RsaClient(Client):
    """A client whose peer connections use an RSA certificate."""

    ciphers = RSA_AND_ECDSA

    def _pc(self) -> RTCPeerConnection:  # type: ignore[override]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc._RTCPeerConnection__certificates = [RsaCertificate.generate(self.ciphers)]
        return pc


async def join(meeting: Meeting, client: Client) -> Client:
    meeting.events.clients[client.id] = client
    meeting.clients.append(client)
    return await client.join()


def without_rtcp_lines(text: str) -> str:
    return re.sub(r"(?m)^a=rtcp:.*\r?\n", "", text)


def test_rtcp_mux_without_an_rtcp_line_survives_the_rewrite() -> None:
    offer = (
        "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\na=sendonly\r\n"
        "a=rtcp-mux\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=rtpmap:96 VP8/90000\r\n")
    assert "a=rtcp:" not in offer
    desc = sdp.parse(offer, "offer")
    assert desc.media[0].rtcp_mux
    plan = sdp.plan_publish(offer, {"video0": "camera"}, ALL, {})
    assert "a=rtcp-mux" in plan.sdp.splitlines()


async def test_an_offer_without_rtcp_lines_publishes(meeting: Meeting) -> None:
    class GstLikeClient(Client):
        async def publish(self, *args: object, **kwargs: object) -> str:
            original = self.room.publisher_offer

            async def offer(pid: str, text: str, sources: dict[str, str]) -> str:
                assert "a=rtcp:" in text and "a=rtcp-mux" in text
                return await original(pid, without_rtcp_lines(text), sources)

            self.room.publisher_offer = offer  # type: ignore[method-assign]
            try:
                return await super().publish(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                del self.room.publisher_offer

    alice = await join(meeting, GstLikeClient(meeting.room, "alice"))
    bob = await meeting.join("bob")
    answer = await alice.publish()
    assert answer.count("a=rtcp-mux") == 2
    await eventually(lambda: bob.decoded("video") >= 5 and bob.decoded("audio") >= 5, timeout=15,
                     what="alice's audio and video at bob")


async def test_a_peer_with_an_rsa_certificate_publishes_and_subscribes(meeting: Meeting) -> None:
    # Publishing, the edge answers a=setup:active: it is the DTLS client of an RSA server.
    # Subscribing, the client answers a=setup:active: the edge is the DTLS server.
    alice = await join(meeting, RsaClient(meeting.room, "alice"))
    bob = await meeting.join("bob")
    answer = await alice.publish()
    assert "a=setup:active" in answer
    await bob.publish()
    await eventually(lambda: bob.decoded("video") >= 5, timeout=15, what="the RSA peer's video at bob")
    await eventually(lambda: alice.decoded("video") >= 5, timeout=15, what="bob's video at the RSA peer")
    assert "a=setup:active" in alice.subscribe_pc.localDescription.sdp


async def test_a_failed_handshake_is_logged_with_the_alert_and_the_participant(meeting: Meeting) -> None:
    class NoCommonCipher(RsaClient):
        ciphers = b"ECDHE-RSA-AES256-GCM-SHA384"  # a suite the edge does not offer

    mallory = await join(meeting, NoCommonCipher(meeting.room, "mallory"))
    with Records("edge.sfu.peer") as records:
        await mallory.publish()
        failed = await eventually(lambda: [r for r in records if r.levelno == logging.WARNING], timeout=15,
                                  what="a warning about mallory's publish PC")
    message = failed[0].getMessage()
    assert "mallory" in message and "publish PC" in message
    assert "DTLS: alert received: handshake_failure" in message, message
    assert failed[0].participant == "mallory"  # type: ignore[attr-defined]
    assert ("mallory", "publish", "failed") in meeting.events.states


async def test_a_fingerprint_mismatch_is_logged(meeting: Meeting) -> None:
    mallory = await meeting.join("mallory")
    original = meeting.room.publisher_offer

    async def forged(pid: str, text: str, sources: dict[str, str]) -> str:
        return await original(pid, re.sub(r"(?m)^(a=fingerprint:sha-256 )\S+", r"\g<1>" + ":".join(["0F"] * 32),
                                          text), sources)

    meeting.room.publisher_offer = forged  # type: ignore[method-assign]
    with Records("edge.sfu.peer") as records:
        await mallory.publish()
        failed = await eventually(lambda: [r for r in records if r.levelno == logging.WARNING], timeout=15,
                                  what="a warning about mallory's publish PC")
    message = failed[0].getMessage()
    assert "mallory" in message and "does not match its a=fingerprint" in message, message


async def test_a_refused_offer_is_logged_with_the_participant(meeting: Meeting) -> None:
    await meeting.join("alice")
    with Records("edge.sfu.room") as records:
        try:
            await meeting.room.publisher_offer("alice", "v=0\r\n", {})
        except SdpError as exc:
            refused = str(exc)
        else:
            raise AssertionError("an offer without media was accepted")
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warnings == [f"offer refused: participant alice: {refused}"]
