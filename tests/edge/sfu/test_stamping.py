"""The subscribe offer asks for transport-wide cc; stamps land in the one-byte extension block."""

from __future__ import annotations

import struct

from aiortc import RTCConfiguration, RTCPeerConnection

from edge.sfu.bandwidth import TWCC_URI, TransportSequence
from edge.sfu.downtrack import one_byte_extensions
from edge.sfu.stamping import Answered, _elements, answered, offer_transport_cc, stamper


async def test_video_m_sections_offer_transport_cc_with_a_free_extension_id() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    text = offer_transport_cc(pc.localDescription.sdp)
    await pc.close()
    audio, video = text.split("\r\nm=")[1:]
    assert TWCC_URI not in audio and "transport-cc" not in audio
    assert f"a=extmap:4 {TWCC_URI}" in video  # 1, 2 and 3 are aiortc's
    assert "a=rtcp-fb:97 transport-cc" in video and "a=rtcp-fb:98 transport-cc" not in video  # not on RTX
    assert offer_transport_cc(text) == text
    # what a browser keeps in its answer is what is stamped
    kept = answered(text.replace("a=setup:actpass", "a=setup:active").replace("a=sendonly", "a=recvonly"))
    assert kept["1"] == Answered(transport_cc=4, abs_send_time=3, remb=True)
    assert kept["0"].transport_cc is None


def test_stamps_are_added_to_the_extension_block() -> None:
    seq = TransportSequence()
    stamp = stamper(Answered(transport_cc=4), seq)
    assert stamp is not None
    block = one_byte_extensions([(1, b"12")])
    first, second = stamp(block, 1000), stamp(block, 1000)
    assert _elements(first) == [(1, b"12"), (4, struct.pack("!H", 1))]
    assert _elements(second) == [(1, b"12"), (4, struct.pack("!H", 2))]
    assert len(first) % 4 == 0 and struct.unpack("!HH", first[:4]) == (0xBEDE, len(first) // 4 - 1)
    assert seq.sent(1) is not None
    abs_stamp = stamper(Answered(abs_send_time=3, remb=True), seq)
    assert abs_stamp is not None and [i for i, _ in _elements(abs_stamp(block, 10))] == [1, 3]
    assert len(_elements(abs_stamp(b"", 10))[0][1]) == 3
    assert stamper(Answered(abs_send_time=3), seq) is None  # no REMB to ask for: nothing to stamp
