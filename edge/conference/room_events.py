"""The meeting as its forwarding room's :class:`~edge.sfu.interfaces.RoomEvents`: what the room
reports (tracks, active speaker, subscriber offers, PC states) becomes protocol messages for the
participants and bus events for the control plane. Mixed into :class:`~.meeting.Meeting`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodes import wire

from .. import protocol as m
from ..sfu.interfaces import ForwardingRoom, TrackInfo

if TYPE_CHECKING:
    from .participant import Participant


class MeetingRoomEvents:
    participants: dict[str, Participant]
    room: ForwardingRoom | None
    active_speaker: str | None

    if TYPE_CHECKING:  # the meeting's own
        def broadcast(self, msg: m._Out, **kw: Any) -> None: ...

        def event(self, cls: type, **fields: Any) -> None: ...

    def on_track_published(self, track: TrackInfo) -> None:
        p = self.participants.get(track.participant_id)
        if p is None or p.state != "in":
            return
        p.tracks[track.track_id] = track
        if track.source in p.muted and self.room is not None:
            self.room.set_track_muted(track.track_id, True)
        self.broadcast(m.TrackPublished(track=p.track_out(track)))
        self.event(wire.TrackPublished, participant_id=p.id, track_id=track.track_id, kind=track.kind,
                   source=track.source)

    def on_track_unpublished(self, track: TrackInfo) -> None:
        p = self.participants.get(track.participant_id)
        if p is None or p.tracks.pop(track.track_id, None) is None:
            return
        self.broadcast(m.TrackUnpublished(participant_id=p.id, track_id=track.track_id))
        self.event(wire.TrackUnpublished, participant_id=p.id, track_id=track.track_id)

    def on_active_speaker(self, participant_id: str | None) -> None:
        if participant_id == self.active_speaker:
            return
        self.active_speaker = participant_id
        self.broadcast(m.ActiveSpeaker(participant_id=participant_id))

    def on_subscriber_offer(self, participant_id: str, sdp: str) -> None:
        p = self.participants.get(participant_id)
        if p is not None and p.state == "in":
            p.send(m.ServerOffer(pc="subscribe", sdp=sdp))

    def on_peer_state(self, participant_id: str, pc: str, state: str) -> None:
        p = self.participants.get(participant_id)
        if p is not None and p.state == "in":
            p.pc_state[pc] = state
            p.send(m.PeerState(pc=pc, state=state))  # type: ignore[arg-type]
