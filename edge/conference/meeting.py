"""One meeting on this edge: who is in it, who waits in the lobby, and its forwarding room.

The meeting is the room's :class:`~edge.sfu.interfaces.RoomEvents` (:mod:`.room_events`): it
turns what the forwarding core reports (tracks, active speaker, subscriber offers, PC states) into
protocol messages for the participants and bus events for the control plane. Membership changes live here; what a
participant or the control plane may ask for (chat, mute, kick, …) is in :mod:`.actions`.

Participants whose socket dropped keep their place for ``resume_grace`` seconds; the meeting
closes on this edge when its last participant has left (or a moderator ends it). Only an end for
all publishes ``MeetingEnded``: an emptied meeting may be joined again, which the control plane
(with its own empty-meeting timer) decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from nodes import wire
from nodes.claims import JoinClaims

from .. import protocol as m
from ..sfu.interfaces import ForwardingRoom, RoomEvents
from .interfaces import CLOSE_ENDED, CLOSE_KICKED, CLOSE_NORMAL, CLOSE_REPLACED, Link, RecordingControl, Refusal
from .participant import Participant
from .remote import Changes, MeshLink, RemoteParticipant, apply, drop
from .room_events import MeetingRoomEvents
from .seats import SeatBook

log = logging.getLogger(__name__)

RoomMaker = Callable[[str, RoomEvents], ForwardingRoom]


class Meeting(MeetingRoomEvents):
    def __init__(self, meeting_id: str, *, edge_id: str, epoch: int, make_room: RoomMaker,
                 emit: Callable[[Any], None], resume_grace: float, replay: int,
                 ice_servers: Callable[[str], list[dict]], on_left: Callable[[Participant], None],
                 on_closed: Callable[[Meeting], None], book: SeatBook | None = None) -> None:
        self.id, self.edge_id, self.epoch = meeting_id, edge_id, epoch
        #: Barred tokens and the entry policy, kept by the conference (they outlive this object).
        self.book = book or SeatBook()
        self.emit_event = emit
        #: Start or stop recording through the control plane (set by the conference).
        self.recording_control: RecordingControl | None = None
        self.resume_grace, self.replay, self.ice_servers = resume_grace, replay, ice_servers
        self._on_left, self._on_closed = on_left, on_closed
        self.participants: dict[str, Participant] = {}
        self.started_at = time.time()
        self.active_speaker: str | None = None
        self.closed = False
        #: Ended on purpose (a moderator or the control plane), not just emptied or stopped.
        self.ended = False
        self.closed_reason = ""
        self._ending = False
        self._entered = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Participants hosted by the meeting's other edges (cascading), and the link to those edges.
        self.remote: dict[str, RemoteParticipant] = {}
        self.mesh: MeshLink | None = None
        #: The meeting's other edges that have a recorder in it (from their mesh state).
        self.recording_edges: set[str] = set()
        #: (participant id, reason, time) of recent departures from this edge, for the other edges.
        self.departed: deque[tuple[str, str, float]] = deque(maxlen=256)
        self.media_error = ""
        self.room: ForwardingRoom | None
        try:
            self.room = make_room(meeting_id, self)
        except Exception as exc:  # noqa: BLE001 - chat and moderation still work; media requests are refused
            log.exception("no forwarding room: the meeting runs without media", extra={"meeting": meeting_id})
            self.room = None
            self.media_error = str(exc)
        self.event(wire.MeetingStarted)

    # -- lookups --------------------------------------------------------------------------------
    def inside(self) -> list[Participant]:
        """Participants in the meeting, in the order they entered it."""
        return sorted((p for p in self.participants.values() if p.state == "in"), key=lambda p: p.entered)

    def waiting(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.state == "lobby"]

    def moderators(self) -> list[Participant]:
        return [p for p in self.inside() if p.moderator]

    def roster(self) -> list[Participant | RemoteParticipant]:
        """Everyone in the meeting on every edge, in order of entry."""
        here = [p for p in self.inside() if not p.hidden]
        there = [r for r in self.remote.values() if r.state == "in"]
        if not there:
            return list(here)
        keyed = [((p.entered_at, self.edge_id, p.entered), p) for p in here]
        keyed += [((r.entered_at, r.edge_id, 0), r) for r in there]
        return [p for _, p in sorted(keyed, key=lambda kp: kp[0])]

    def lobby_entries(self) -> list[m.LobbyEntry]:
        return [p.lobby_entry() for p in self.waiting()] + \
            [r.lobby_entry() for r in self.remote.values() if r.state == "lobby"]

    def target(self, participant_id: str, field: str = "participant_id") -> Participant:
        p = self.participants.get(participant_id)
        if p is None:
            raise Refusal("not_found", f"no participant {participant_id!r} in this meeting", field)
        return p

    def seat_of(self, token_id: str) -> Participant | None:
        """The participant of this edge that joined with *token_id*, if any."""
        return next((p for p in self.participants.values() if p.token_id == token_id and p.state != "left"), None)

    def seats_taken(self, *, except_token: str = "") -> int:
        """Everyone in the meeting or its lobby on every edge, but the seat *except_token* holds."""
        here = sum(1 for p in self.participants.values()
                   if p.state != "left" and not p.hidden and p.token_id != except_token)
        return here + sum(1 for r in self.remote.values() if not (except_token and r.token_id == except_token))

    def learn(self, policy: wire.MeetingPolicy, barred: list[wire.MeshBarred]) -> None:
        """What the control plane or another edge says of the entry policy and barred tokens."""
        changed = self.book.adopt(self.id, policy)
        for b in barred:
            if self.book.bar(self.id, b.token_id, b.reason, b.until):
                changed = True
                p = self.seat_of(b.token_id)
                if p is not None:  # it joined here before this edge heard of it: it goes now
                    self.spawn(self._remove_barred(p, b.reason))
        if changed:
            self.changed()

    async def _remove_barred(self, p: Participant, reason: str) -> None:
        message = f"this join token was {reason} from the meeting"
        p.send(m.Kicked(by="", reason=message))
        await self.leave(p, "kicked", code=CLOSE_KICKED, close_reason=message)

    @property
    def recording_here(self) -> bool:
        """A recorder is in the meeting on this edge."""
        return any(p.hidden and p.state == "in" for p in self.participants.values())

    @property
    def recording(self) -> bool:
        """A recorder is in the meeting, on this edge or another edge of it (its mesh state says so)."""
        return bool(self.recording_edges) or self.recording_here

    def set_remote_recording(self, edge_id: str, on: bool) -> None:
        """Another edge of the meeting has a recorder (*on*) or no longer: tell everyone here when
        that changes whether the meeting is recorded."""
        was = self.recording
        if on:
            self.recording_edges.add(edge_id)
        else:
            self.recording_edges.discard(edge_id)
        if self.recording != was:
            self.broadcast(m.Recording(active=self.recording))

    def track_count(self) -> int:
        return sum(len(p.tracks) for p in self.participants.values())

    # -- sending --------------------------------------------------------------------------------
    def broadcast(self, msg: m._Out, *, skip: Participant | None = None, requester: Participant | None = None,
                  re: m.RequestId = None) -> None:
        for p in self.inside():
            if p is not skip:
                p.send(msg, re=re if p is requester else None)

    def lobby_changed(self) -> None:
        waiting = m.LobbyList(waiting=self.lobby_entries())
        for p in self.moderators():
            p.send(waiting)

    def event(self, cls: type, **fields: Any) -> None:
        self.emit_event(cls(meeting_id=self.id, edge_id=self.edge_id, epoch=self.epoch, **fields))
        self.changed()

    def changed(self) -> None:
        """This edge's part of the meeting changed: the other edges hear of it."""
        if self.mesh is not None:
            self.mesh.changed()

    def joined_message(self, p: Participant) -> m.Joined:
        return m.Joined(
            participant_id=p.id, name=p.name, role=p.role, grants=p.grants_out(),
            meeting=m.MeetingOut(meeting_id=self.id, edge_id=self.edge_id, started_at=self.started_at,
                                 active_speaker=self.active_speaker, recording=self.recording),
            roster=[q.out() for q in self.roster()],
            lobby=self.lobby_entries() if p.moderator else [],
            resume_token=p.resume_token, resume_grace=self.resume_grace, ice_servers=self.ice_servers(p.id),
        )

    def waiting_message(self, p: Participant) -> m.Waiting:
        return m.Waiting(participant_id=p.id, name=p.name, resume_token=p.resume_token,
                         resume_grace=self.resume_grace)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- membership -----------------------------------------------------------------------------
    async def add(self, claims: JoinClaims, link: Link, re: m.RequestId,
                  video_codecs: frozenset[str] = frozenset()) -> Participant:
        """A participant arrives with a verified token: into the lobby or straight in."""
        if self.closed or self._ending:
            raise Refusal("meeting_ended", "this meeting is ending")
        self.epoch = max(self.epoch, claims.ep)
        old = self.seat_of(claims.jti)
        if old is not None:  # one seat per token: the new join takes over, the old socket is told
            await self.leave(old, "replaced", code=CLOSE_REPLACED, keep_open=True,
                             close_reason="replaced: the same join token joined again")
        p = Participant(claims, replay=self.replay)
        p.video_codecs = video_codecs
        p.link = link
        self.participants[p.id] = p
        if p.state == "lobby":
            p.send(self.waiting_message(p), re=re)
            self.event(wire.LobbyWaiting, participant_id=p.id, account_id=p.account_id, display_name=p.name)
            self.lobby_changed()
        else:
            await self.enter(p, re)
        return p

    async def enter(self, p: Participant, re: m.RequestId = None) -> None:
        from_lobby = p.state == "lobby"
        was_recorded = bool(self.recording_edges) or any(q.hidden and q.state == "in" and q is not p
                                                          for q in self.participants.values())
        p.state = "in"
        self._entered += 1
        p.entered = self._entered
        p.entered_at = time.time()
        p.send(self.joined_message(p), re=re)
        if p.hidden and sum(1 for q in self.inside() if q.hidden) == 1:
            if not was_recorded:
                self.broadcast(m.Recording(active=True), skip=p)  # everyone knows they are recorded
            self.event(wire.RecordingStarted, participant_id=p.id)
        if not p.hidden:
            self.broadcast(m.ParticipantJoined(participant=p.out()), skip=p)
            self.event(wire.ParticipantJoined, participant_id=p.id, account_id=p.account_id, display_name=p.name,
                       role=p.role)
        if from_lobby:
            self.lobby_changed()
        if self.room is None:
            return
        try:
            await self.room.add_peer(p.id, p.grants())
            p.has_peer = True
        except Exception as exc:  # noqa: BLE001 - the participant stays, without media
            log.exception("add_peer failed", extra={"meeting": self.id, "participant": p.id})
            p.reply(m.Error(code="media_failed", message=f"media could not be set up: {exc}"))
        if p.state == "left" and p.has_peer:  # left while the peer was being added
            await self._remove_peer(p)

    async def _remove_peer(self, p: Participant) -> None:
        if self.room is not None and p.has_peer:
            p.has_peer = False
            try:
                await self.room.remove_peer(p.id)
            except Exception:  # noqa: BLE001
                log.exception("remove_peer failed", extra={"meeting": self.id, "participant": p.id})

    def detach(self, p: Participant, link: Link) -> None:
        """The participant's socket is gone: keep its place for the grace period."""
        if p.link is not link or p.state == "left":
            return
        p.link = None
        p.cancel_grace()
        p.grace = asyncio.get_running_loop().call_later(
            self.resume_grace, lambda: self.spawn(self.leave(p, "timeout")))

    async def attach(self, p: Participant, link: Link, request: m.Join) -> None:
        """A resuming socket takes the participant over: replay what it missed."""
        if request.last_seq > p.seq:
            raise Refusal("invalid", f"last_seq {request.last_seq} is ahead of the edge ({p.seq})", "last_seq")
        old, p.link = p.link, link
        p.cancel_grace()
        if old is not None and old is not link:
            old.close(CLOSE_REPLACED, "replaced by a resumed connection")
        missed, complete = p.missed(request.last_seq)
        broken = any(s in ("failed", "closed") for s in p.pc_state.values())
        restart = (request.restart_media or broken) and p.state == "in" and p.has_peer and self.room is not None
        p.reply(m.Resumed(participant_id=p.id, replayed=len(missed) if complete else 0, complete=complete,
                          media_restarted=restart, ice_servers=self.ice_servers(p.id) if restart else []),
                re=request.id)
        if complete:
            for msg in missed:
                link.send(msg)
        else:
            p.send(self.joined_message(p) if p.state == "in" else self.waiting_message(p))
        if restart:
            p.pc_state.clear()
            await self.room.restart(p.id)  # type: ignore[union-attr]

    async def leave(self, p: Participant, reason: str, *, code: int = CLOSE_NORMAL, close_reason: str = "",
                    announce: bool = True, keep_open: bool = False, by: str = "") -> None:
        """*p* leaves; the meeting closes here when it was the last (unless *keep_open*: its seat is
        being taken over). A kicked or denied participant's token no longer joins; *by* names who
        removed it (the event carries it for the audit log)."""
        if p.state == "left":
            return
        if reason in ("kicked", "denied"):
            self.book.bar(self.id, p.token_id, reason, p.token_exp)
        was = p.state
        p.state = "left"
        p.cancel_grace()
        self.participants.pop(p.id, None)
        self.departed.append((p.id, reason, time.time()))
        self._on_left(p)
        if was == "in":
            await self._remove_peer(p)
            for t in list(p.tracks.values()):
                if announce:
                    self.broadcast(m.TrackUnpublished(participant_id=p.id, track_id=t.track_id))
                self.event(wire.TrackUnpublished, participant_id=p.id, track_id=t.track_id)
            p.tracks.clear()
            if announce and not p.hidden:
                self.broadcast(m.ParticipantLeft(participant_id=p.id, reason=reason))
        elif announce:
            self.lobby_changed()
        if not p.hidden:
            self.event(wire.ParticipantLeft, participant_id=p.id, reason=reason, by=by)
        elif was == "in" and not self.recording_here:
            if announce and not self.recording:   # (no recorder on another edge of the meeting either)
                self.broadcast(m.Recording(active=False, error=p.record_error))
            self.event(wire.RecordingStopped, participant_id=p.id,
                       reason=f"failed: {p.record_error}" if p.record_error else reason)
        if p.link is not None:
            p.link.close(code, close_reason or reason)
            p.link = None
        if self._ending or keep_open:
            return
        if self._only_recorders():
            await self._release_recorders()
        elif not self.participants:
            await self.close("empty")

    async def end(self, *, by: str, reason: str, code: int = CLOSE_ENDED, leave_reason: str = "ended",
                  notice: m._Out | None = None) -> None:
        """Everyone is told and disconnected; the meeting closes."""
        if self.closed or self._ending:
            return
        self._ending = True
        self.ended = leave_reason == "ended"
        notice = notice or m.MeetingEnded(by=by, reason=reason)
        for p in list(self.participants.values()):
            p.send(notice)
            await self.leave(p, leave_reason, code=code, close_reason=reason or leave_reason, announce=False)
        await self.close(reason or leave_reason)

    async def end_for_all(self, *, by: str, reason: str) -> None:
        """A moderator here ends the meeting: on the other edges too, then here."""
        if self.mesh is not None and not (self.closed or self._ending):
            with contextlib.suppress(Exception):
                await self.mesh.end(by=by, reason=reason)
        await self.end(by=by, reason=reason)

    # -- the other edges (cascading) ------------------------------------------------------------
    def apply_remote(self, edge_id: str, participants: list[RemoteParticipant], reasons: dict[str, str]) -> None:
        """Another edge's current part of the meeting (its mesh state)."""
        self._announce(apply(self.remote, edge_id, [p for p in participants if p.id not in self.participants],
                             reasons))
        for r in participants:  # one seat per token across edges: the newer seat stays
            p = self.seat_of(r.token_id) if r.token_id else None
            if p is not None and r.since > p.since:
                self.spawn(self.leave(p, "replaced", code=CLOSE_REPLACED,
                                      close_reason="replaced: the same join token joined on another edge"))

    def drop_remote(self, edge_id: str, reason: str, reasons: dict[str, str] | None = None) -> None:
        """Another edge left the meeting (closed it, or was not heard from)."""
        self._announce(drop(self.remote, edge_id, reason, reasons))

    def _only_recorders(self) -> bool:
        """Recorders are all that is left of the meeting, here and on its other edges."""
        return bool(self.participants) and all(q.hidden for q in self.participants.values()) and not self.remote

    async def _release_recorders(self) -> None:
        for q in list(self.participants.values()):  # nobody left to record: the recorders go too
            q.send(m.MeetingEnded(by="", reason="empty"))
            await self.leave(q, "empty", close_reason="nobody left in the meeting")

    def _announce(self, changes: Changes) -> None:
        if self._only_recorders():
            self.spawn(self._release_recorders())
        for msg in changes.messages:
            self.broadcast(msg)
        if changes.lobby:
            self.lobby_changed()
        if self.room is not None:
            for track_id, muted in changes.muted_tracks.items():
                with contextlib.suppress(LookupError):  # not relayed here (yet)
                    self.room.set_track_muted(track_id, muted)

    def deliver_reaction(self, participant_id: str, reaction: str, at: float) -> None:
        """A reaction of another edge's participant: to everyone here (an unknown one is dropped)."""
        if reaction in m.REACTIONS and (p := self.remote.get(participant_id)) is not None and p.state == "in":
            self.broadcast(m.Reaction(participant_id=participant_id, reaction=reaction, at=at))  # type: ignore[arg-type]

    def deliver_chat(self, msg: m.ChatMessage) -> None:
        """A chat message from another edge's participant: to everyone here, or to its recipient."""
        if not msg.to:
            self.broadcast(msg)
        elif (target := self.participants.get(msg.to)) is not None and target.state == "in":
            target.send(msg)

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.closed_reason = reason
        if self.room is not None:
            try:
                await self.room.close()
            except Exception:  # noqa: BLE001
                log.exception("room close failed", extra={"meeting": self.id})
        if self.ended:  # emptied or stopped here is not the end of the meeting: the control plane decides
            self.event(wire.MeetingEnded, reason=reason)
        self._on_closed(self)
