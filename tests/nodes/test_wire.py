"""Bus messages: tagged unions round-trip; bad input is a clear decode error; subjects are safe."""

from __future__ import annotations

import msgspec
import pytest

from nodes import subjects, wire


def test_commands_round_trip_through_one_decoder() -> None:
    for msg in (wire.Kick(meeting_id="m1", participant_id="p1", reason="spam"),
                wire.Mute(meeting_id="m1", participant_id="p1", kind="video"),
                wire.Admit(meeting_id="m1", participant_id="p2"),
                wire.EndMeeting(meeting_id="m1", epoch=3)):
        assert wire.command_decoder.decode(wire.encode(msg)) == msg


def test_events_carry_an_id_for_deduplication() -> None:
    a = wire.ParticipantJoined(meeting_id="m", edge_id="e", participant_id="p")
    b = wire.ParticipantJoined(meeting_id="m", edge_id="e", participant_id="p")
    assert a.event_id != b.event_id
    assert wire.event_decoder.decode(wire.encode(a)) == a
    assert set(wire.EVENT_KIND) == set(wire.Event.__args__)  # every event has a subject suffix


def test_decoder_rejects_unknown_tag_and_missing_field() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'cmd.explode'"):
        wire.command_decoder.decode(b'{"type":"cmd.explode","meeting_id":"m"}')
    with pytest.raises(msgspec.ValidationError, match="participant_id"):
        wire.command_decoder.decode(b'{"type":"cmd.kick","meeting_id":"m"}')
    with pytest.raises(msgspec.DecodeError):
        wire.registry_decoder.decode(b"{not json")


def test_new_fields_default_so_old_senders_still_decode() -> None:
    old = b'{"type":"edge.heartbeat","edge_id":"e1","region":"eu","public_url":"ws://x"}'
    hb = wire.registry_decoder.decode(old)
    assert isinstance(hb, wire.EdgeHeartbeat) and hb.participants == 0 and hb.draining is False


def test_subjects_refuse_unsafe_tokens() -> None:
    assert subjects.edge_heartbeat("edge-1") == "cc.edge.edge-1.heartbeat"
    assert subjects.command("m_1", "kick") == "cc.cmd.m_1.kick"
    for bad in ("a.b", "*", ">", "", "x y", "a" * 65):
        with pytest.raises(subjects.SubjectError):
            subjects.edge_heartbeat(bad)
