"""The signaling protocol's messages and the publish-offer checks, without a server."""

from __future__ import annotations

import json

import msgspec
import pytest

from edge import protocol as m
from edge.conference.interfaces import Refusal
from edge.conference.sdp import check_publish, sections
from edge.signaling.session import Session, field_of

OFFER = """v=0\r
o=- 1 1 IN IP4 0.0.0.0\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1 2\r
m=audio 9 UDP/TLS/RTP/SAVPF 111\r
a=mid:0\r
a=sendrecv\r
m=video 9 UDP/TLS/RTP/SAVPF 96\r
a=mid:1\r
a=sendonly\r
m=video 9 UDP/TLS/RTP/SAVPF 96\r
a=mid:2\r
a=recvonly\r
"""


def test_every_client_message_decodes_with_the_one_decoder() -> None:
    samples = [
        {"type": "join", "id": 1, "token": "t", "meeting_id": "m"},
        {"type": "join", "resume_token": "r", "last_seq": 7},
        {"type": "offer", "pc": "publish", "sdp": "v=0", "sources": {"0": "microphone", "1": "camera"}},
        {"type": "answer", "pc": "subscribe", "sdp": "v=0"},
        {"type": "ice", "pc": "publish", "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
                                                       "sdpMid": "0", "sdpMLineIndex": 0}},
        {"type": "ice", "pc": "subscribe", "candidate": None},
        {"type": "mute", "source": "camera", "muted": True, "participant_id": "p"},
        {"type": "chat", "text": "hello", "to": "p"},
        {"type": "admit", "participant_id": "p"}, {"type": "deny", "participant_id": "p", "reason": "no"},
        {"type": "kick", "participant_id": "p"}, {"type": "promote", "participant_id": "p"},
        {"type": "end_meeting", "reason": "done"}, {"type": "leave"}, {"type": "ping", "id": "x", "t": 1.5},
    ]
    decoded = [m.client_decoder.decode(json.dumps(s)) for s in samples]
    assert [type(d).__name__ for d in decoded] == ["Join", "Join", "Offer", "Answer", "Ice", "Ice", "Mute", "Chat",
                                                   "Admit", "Deny", "Kick", "Promote", "EndMeeting", "Leave", "Ping"]
    assert decoded[0].id == 1 and decoded[1].last_seq == 7
    assert decoded[2].sources == {"0": "microphone", "1": "camera"}
    assert decoded[4].candidate.sdp_mid == "0" and decoded[5].candidate is None


def test_unknown_fields_are_ignored_so_newer_clients_still_work() -> None:
    msg = m.client_decoder.decode(b'{"type":"chat","text":"hi","emoji":"wave","id":"c1"}')
    assert isinstance(msg, m.Chat) and msg.text == "hi" and msg.id == "c1"


def test_server_messages_carry_type_seq_and_the_request_id() -> None:
    raw = json.loads(m.encode(m.Muted(seq=4, re="r9", participant_id="p", source="microphone", muted=True, by="q")))
    assert raw == {"type": "muted", "seq": 4, "re": "r9", "participant_id": "p", "source": "microphone",
                   "muted": True, "by": "q"}
    back = m.server_decoder.decode(m.encode(m.ServerIce(pc="publish", candidate=m.Candidate(candidate="c", sdp_mid="0"))))
    assert back.candidate.sdp_mid == "0"
    assert json.loads(m.encode(back))["candidate"]["sdpMid"] == "0"   # the browser's field names


@pytest.mark.parametrize("data, code, field", [
    (b'{"type":"chat"}', "invalid", "text"),
    (b'{"type":"chat","text":5}', "invalid", "text"),
    (b'{"type":"offer","sdp":"v=0","sources":{"0":"mic"}}', "invalid", "sources"),
    (b'{"type":"ice","pc":"publish","candidate":{}}', "invalid", "candidate.candidate"),
    (b'{"type":"teleport"}', "unknown_type", "type"),
    (b'{"text":"no type"}', "invalid", "type"),
])
def test_a_bad_message_names_its_field(data: bytes, code: str, field: str) -> None:
    with pytest.raises(msgspec.ValidationError) as exc:
        m.client_decoder.decode(data)
    err = Session._invalid(str(exc.value), m.request_id_of(data))
    assert (err.code, err.field) == (code, field), err
    assert field_of(str(exc.value)) == field


def test_the_request_id_of_a_bad_message_is_still_echoed() -> None:
    assert m.request_id_of(b'{"type":"chat","id":"c7"}') == "c7"
    assert m.request_id_of(b'{not json') is None


def test_sdp_sections_and_directions() -> None:
    found = sections(OFFER)
    assert [(s.mid, s.kind, s.sending) for s in found] == [("0", "audio", True), ("1", "video", True),
                                                          ("2", "video", False)]
    with pytest.raises(Refusal) as exc:
        sections("hello")
    assert (exc.value.code, exc.value.field) == ("bad_sdp", "sdp")


def test_publish_check_accepts_granted_sources() -> None:
    check_publish(OFFER, {"0": "microphone", "1": "camera"}, frozenset({"microphone", "camera"}))
    check_publish(OFFER, {"0": "microphone", "1": "screen"}, frozenset({"microphone", "screen"}))


@pytest.mark.parametrize("sources, allowed, code, says", [
    ({"0": "microphone", "1": "camera"}, {"microphone"}, "forbidden", "may not publish camera"),
    ({"0": "microphone", "1": "camera"}, set(), "forbidden", "may not publish microphone"),
    ({"0": "microphone"}, {"microphone", "camera"}, "invalid", "mid '1' sends video but sources does not name it"),
    ({"0": "camera", "1": "camera"}, {"microphone", "camera"}, "invalid", "carries audio, not camera"),
    ({"0": "microphone", "1": "camera", "9": "screen"}, {"microphone", "camera", "screen"}, "invalid",
     "mid '9'"),
])
def test_publish_check_refuses(sources: dict, allowed: set, code: str, says: str) -> None:
    with pytest.raises(Refusal) as exc:
        check_publish(OFFER, sources, frozenset(allowed))
    assert exc.value.code == code and says in exc.value.message and exc.value.field == "sources"
