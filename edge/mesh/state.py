"""A meeting's part on this edge as a :class:`nodes.wire.MeshState`, and back.

Only this edge's own participants and the tracks they publish here (local origin) are described:
relayed tracks are never announced onward, so another edge asks each track of the edge where
its publisher is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nodes import wire

from ..conference.meeting import Meeting
from ..conference.remote import RemoteParticipant, RemoteTrack


def describe(meeting: Meeting, *, edge_id: str, region: str, started_at: float, seq: int,
             departed_memory: float, leaving: bool = False) -> wire.MeshState:
    now = time.time()
    participants, tracks = [], []
    if not leaving:
        for p in meeting.participants.values():
            if p.state not in ("in", "lobby") or p.hidden:
                continue
            participants.append(wire.MeshParticipant(
                participant_id=p.id, name=p.name, role=p.role, moderator=p.moderator, state=p.state,  # type: ignore[arg-type]
                muted=sorted(p.muted), muted_by=dict(p.muted_by), since=p.since, entered_at=p.entered_at,
                token_id=p.token_id, hand=p.hand, hand_by=p.hand_by))
            if p.state == "in":
                tracks += [wire.MeshTrack(track_id=t.track_id, participant_id=p.id, kind=t.kind, source=t.source,
                                          codec=t.codec, muted=t.source in p.muted) for t in p.tracks.values()]
    departed = [wire.MeshDeparture(participant_id=pid, reason=reason, at=at) for pid, reason, at in meeting.departed
                if leaving or now - at <= departed_memory]
    return wire.MeshState(meeting_id=meeting.id, epoch=meeting.epoch, edge_id=edge_id, region=region,
                          started_at=started_at, seq=seq, participants=participants, tracks=tracks,
                          departed=departed, leaving=leaving, policy=meeting.book.policy(meeting.id),
                          barred=meeting.book.barred(meeting.id), recording=meeting.recording_here and not leaving)


def participants_of(state: wire.MeshState) -> list[RemoteParticipant]:
    """The remote participants a state describes, with their tracks."""
    out = {p.participant_id: RemoteParticipant(
        id=p.participant_id, edge_id=state.edge_id, name=p.name, role=p.role, moderator=p.moderator, state=p.state,
        muted=set(p.muted), muted_by=dict(p.muted_by), since=p.since, entered_at=p.entered_at,
        token_id=p.token_id, hand=p.hand, hand_by=p.hand_by)
        for p in state.participants}
    for t in state.tracks:
        owner = out.get(t.participant_id)
        if owner is not None and owner.state == "in":
            owner.tracks[t.track_id] = RemoteTrack(track_id=t.track_id, participant_id=t.participant_id,
                                                   kind=t.kind, source=t.source, codec=t.codec)
    return list(out.values())


def reasons_of(state: wire.MeshState) -> dict[str, str]:
    return {d.participant_id: d.reason for d in state.departed}


@dataclass
class EdgeView:
    """What this edge knows of another edge of the meeting."""

    edge_id: str
    region: str = ""
    started_at: float = 0.0
    seq: int = -1
    #: time.monotonic() of its last state
    seen: float = 0.0
    #: its tracks (local origin there), by id
    tracks: dict[str, wire.MeshTrack] = field(default_factory=dict)

    def newer(self, state: wire.MeshState) -> bool:
        """*state* is more recent than the last one taken from this edge."""
        return (state.started_at, state.seq) > (self.started_at, self.seq)

    def take(self, state: wire.MeshState) -> bool:
        """Remember *state*; True when the edge restarted (another process, so new relays)."""
        restarted = self.seq >= 0 and state.started_at != self.started_at
        self.region, self.started_at, self.seq = state.region, state.started_at, state.seq
        self.seen = time.monotonic()
        inside = {p.participant_id for p in state.participants if p.state == "in"}
        self.tracks = {t.track_id: t for t in state.tracks if t.participant_id in inside}
        return restarted
