"""Another edge's state as this edge's clients see it: the messages a change makes, in order."""

from __future__ import annotations

from edge.conference import remote
from edge.conference.remote import RemoteParticipant, RemoteTrack
from edge.mesh.state import EdgeView, participants_of, reasons_of
from nodes import wire


def person(pid: str, edge: str = "us-1", **over: object) -> RemoteParticipant:
    return RemoteParticipant(id=pid, edge_id=edge, name=pid.title(), **over)  # type: ignore[arg-type]


def cam(pid: str, tid: str = "") -> RemoteTrack:
    return RemoteTrack(track_id=tid or f"TR_{pid}", participant_id=pid, kind="video", source="camera", codec="VP8")


def kinds(changes: remote.Changes) -> list[str]:
    return [type(m).__name__ for m in changes.messages]


def test_arrivals_changes_and_departures_become_protocol_messages() -> None:
    known: dict[str, RemoteParticipant] = {}
    bob = person("bob", tracks={"TR_bob": cam("bob")}, entered_at=5.0)
    first = remote.apply(known, "us-1", [bob, person("gus", state="lobby")], {})
    assert kinds(first) == ["ParticipantJoined", "TrackPublished"] and first.lobby
    assert first.messages[0].participant.tracks == []              # the track follows as track_published
    assert first.muted_tracks == {"TR_bob": False}
    # Bob mutes his camera, is promoted, publishes a screen; Gus is admitted
    screen = RemoteTrack(track_id="TR_s", participant_id="bob", kind="video", source="screen")
    bob2 = person("bob", tracks={"TR_bob": cam("bob"), "TR_s": screen}, muted={"camera"},
                  muted_by={"camera": "mo"}, moderator=True)
    second = remote.apply(known, "us-1", [bob2, person("gus")], {})
    assert kinds(second) == ["TrackPublished", "ParticipantUpdated", "Muted", "ParticipantJoined"]
    muted = second.messages[2]
    assert (muted.participant_id, muted.source, muted.muted, muted.by) == ("bob", "camera", True, "mo")
    assert second.muted_tracks == {"TR_bob": True, "TR_s": False} and second.lobby
    # nothing changed: nothing to say
    assert remote.apply(known, "us-1", [bob2, person("gus")], {}).messages == []
    # Bob is kicked (the reason comes with the state); his tracks go first
    third = remote.apply(known, "us-1", [person("gus")], {"bob": "kicked"})
    assert kinds(third) == ["TrackUnpublished", "TrackUnpublished", "ParticipantLeft"]
    assert third.messages[-1].reason == "kicked" and set(known) == {"gus"}


def test_a_lost_edge_takes_only_its_own_participants_along() -> None:
    known: dict[str, RemoteParticipant] = {}
    remote.apply(known, "us-1", [person("bob")], {})
    remote.apply(known, "ap-1", [person("cat", edge="ap-1")], {})
    gone = remote.drop(known, "us-1", "edge_lost")
    assert [(type(m).__name__, m.participant_id, m.reason) for m in gone.messages] == \
        [("ParticipantLeft", "bob", "edge_lost")]
    assert set(known) == {"cat"}
    assert remote.drop(known, "ap-1", "edge_lost", {"cat": "edge_stopped"}).messages[0].reason == "edge_stopped"


def test_a_state_round_trips_into_remote_participants_and_orders_by_sequence() -> None:
    state = wire.MeshState(
        meeting_id="m", edge_id="us-1", started_at=100.0, seq=7,
        participants=[wire.MeshParticipant(participant_id="bob", name="Bob", muted=["microphone"], entered_at=3.0),
                      wire.MeshParticipant(participant_id="gus", name="Gus", state="lobby")],
        tracks=[wire.MeshTrack(track_id="TR_1", participant_id="bob", kind="audio", source="microphone"),
                wire.MeshTrack(track_id="TR_2", participant_id="gus", kind="video", source="camera")],
        departed=[wire.MeshDeparture(participant_id="dan", reason="timeout")])
    decoded = wire.mesh_decoder.decode(wire.encode(state))
    assert decoded == state
    people = {p.id: p for p in participants_of(decoded)}
    assert list(people["bob"].tracks) == ["TR_1"] and people["gus"].tracks == {}   # the lobby publishes nothing
    assert people["bob"].muted == {"microphone"} and people["bob"].entered_at == 3.0
    assert reasons_of(decoded) == {"dan": "timeout"}
    view = EdgeView("us-1")
    assert view.newer(state) and view.take(state) is False and set(view.tracks) == {"TR_1"}
    older = wire.MeshState(meeting_id="m", edge_id="us-1", started_at=100.0, seq=6)
    restarted = wire.MeshState(meeting_id="m", edge_id="us-1", started_at=200.0, seq=1)
    assert not view.newer(older) and view.newer(restarted) and view.take(restarted) is True


def test_old_senders_still_decode() -> None:
    old = b'{"type":"mesh.state","meeting_id":"m","edge_id":"e"}'
    state = wire.mesh_decoder.decode(old)
    assert isinstance(state, wire.MeshState) and state.participants == [] and state.leaving is False
    reply = wire.relay_reply_decoder.decode(b'{"type":"relay.reply","ok":true}')
    assert reply == wire.RelayReply(ok=True)


def test_mesh_and_relay_subjects_are_safe() -> None:
    import pytest

    from nodes import subjects

    # the sender's id sits at a fixed position, where a NATS permission pins it
    assert subjects.mesh("meet-1", "us-1", "state") == "cc.relay.m.meet-1.us-1.state"
    assert subjects.meeting_mesh("meet-1") == "cc.relay.m.meet-1.*.*"
    assert subjects.parse_mesh("cc.relay.m.meet-1.us-1.signal") == ("meet-1", "us-1", "signal")
    assert subjects.parse_mesh("cc.relay.m.meet-1.signal") is None
    assert subjects.relay("eu-1", "us-1", "want") == "cc.relay.e.eu-1.us-1.want"
    assert subjects.relay_inbox("eu-1") == "cc.relay.e.eu-1.*.*"
    assert subjects.parse_relay("cc.relay.e.eu-1.us-1.offer") == ("eu-1", "us-1", "offer")
    assert subjects.event("eu-1", "meet-1", "ended") == "cc.evt.eu-1.meet-1.ended"
    assert subjects.parse_event("cc.evt.eu-1.meet-1.ended") == ("eu-1", "meet-1", "ended")
    assert subjects.parse_event("cc.evt.meet-1.ended") is None
    assert subjects.edge_publish_allow("eu-1") == ["cc.edge.eu-1.>", "cc.evt.eu-1.>", "cc.relay.m.*.eu-1.>",
                                                   "cc.relay.e.*.eu-1.>"]
    for bad in ("a.b", "*", ">", ""):
        with pytest.raises(subjects.SubjectError):
            subjects.mesh(bad, "us-1", "state")
        with pytest.raises(subjects.SubjectError):
            subjects.mesh("meet-1", bad, "state")
        with pytest.raises(subjects.SubjectError):
            subjects.relay(bad, "us-1", "want")
        with pytest.raises(subjects.SubjectError):
            subjects.relay("eu-1", bad, "want")
        with pytest.raises(subjects.SubjectError):
            subjects.event(bad, "meet-1", "joined")
