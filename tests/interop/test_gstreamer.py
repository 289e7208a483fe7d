"""A GStreamer webrtcbin participant (Debian's GStreamer 1.22, from the system Python with ``gi``)
publishes to and subscribes from the real edge. Its offers carry ``a=rtcp-mux`` without an
``a=rtcp:`` line and its DTLS certificate is RSA: the edge, answering ``a=setup:active``, is the DTLS
client of an RSA server. The aiortc participant decodes its video and audio; it decodes hers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.stack import Stack
from tests.interop.harness import CLIENTS, StackPeer, until
from tests.support.participant import Participant
from tests.support.util import require

SYSTEM_PYTHON = "/usr/bin/python3"


def webrtcbin_available() -> bool:
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0'); "
             "from gi.repository import Gst; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in ('webrtcbin', 'nicesrc', 'vp8enc', 'opusenc'))")
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


async def test_gstreamer_webrtcbin_publishes_and_subscribes(interop_stack: Stack, meeting_id: str,
                                                            partner: Participant, workdir: Path) -> None:
    require(webrtcbin_available(), "GStreamer webrtcbin for the system Python (./dev test installs "
                                   "gstreamer1.0-plugins-bad gstreamer1.0-nice python3-gst-1.0 …)")
    granted = await Participant.grant(interop_stack.url, meeting_id, "GStreamer")
    peer = await StackPeer([SYSTEM_PYTHON, str(CLIENTS / "gst_peer.py")], granted, workdir / "gst.log").start()
    try:
        await until(lambda: partner.frames_from(peer.participant_id, "video") >= 10
                    and partner.frames_from(peer.participant_id, "audio") >= 10,
                    peer, 30, "Ann decodes the GStreamer participant's video and audio")
        await until(lambda: peer.frames() >= 10 and peer.received("audio") >= 10,
                    peer, 30, "the GStreamer participant decodes Ann's video and audio")
        offer = next(m for m in peer.to_edge if m["type"] == "offer")
        assert "a=rtcp-mux" in offer["sdp"] and "a=rtcp:" not in offer["sdp"]
        answer = next(m for m in peer.from_edge if m["type"] == "answer")
        assert "a=setup:active" in answer["sdp"]  # the edge is the DTLS client of webrtcbin's RSA certificate
    finally:
        await peer.close()
