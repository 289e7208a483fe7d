"""All meetings on this edge: the :class:`~.interfaces.Entry` signaling sessions join through.

A meeting is opened by its first participant and closed when its last one has left. Meetings
that a moderator (or the control plane) ended are remembered for a while so that tokens issued
before the end cannot open them again. While the edge drains, new joins are refused; resumes
still work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nodes import wire
from nodes.claims import JoinClaims

from .. import protocol as m
from .interfaces import CLOSE_EDGE_STOPPING, Link, RecordingControl, Refusal
from .meeting import Meeting, RoomMaker
from .participant import Participant, publish_sources
from .seat import ParticipantSeat
from .seats import SeatBook

log = logging.getLogger(__name__)

#: Seconds an ended meeting is remembered (tokens issued before its end are refused meanwhile).
ENDED_MEMORY = 6 * 3600.0


class Conference:
    def __init__(self, *, edge_id: str, make_room: RoomMaker, emit: Callable[[Any], None],
                 resume_grace: float = 30.0, replay: int = 512, chat_max_chars: int = 2000,
                 ice_servers: Callable[[str], list[dict]] | None = None) -> None:
        self.edge_id = edge_id
        self.make_room = make_room
        self.emit = emit
        self.resume_grace, self.replay, self.chat_max_chars = resume_grace, replay, chat_max_chars
        #: ``joined.ice_servers`` for a participant id (its own TURN credentials among them).
        self.ice_servers: Callable[[str], list[dict]] = ice_servers or (lambda _participant: [])
        self.meetings: dict[str, Meeting] = {}
        self.draining = False
        #: Participants that have left this edge since it started (what they held is freed).
        self.departures = 0
        self._resume: dict[str, tuple[Meeting, Participant]] = {}
        self._ended: dict[str, float] = {}
        #: Barred tokens and entry policies of every meeting (they outlive a meeting that empties).
        self.book = SeatBook()
        #: Reads the entry policy the control plane recorded for a meeting (set by the mesh).
        self.policy_source: Callable[[str], Awaitable[wire.MeetingPolicy | None]] | None = None
        self._opened: list[Callable[[Meeting], None]] = []
        self._closed: list[Callable[[Meeting], None]] = []
        #: Asks the control plane to start or stop recording a meeting (set by the edge's
        #: recording endpoint): (meeting id, "start" or "stop", account id, participant id); raises
        #: :class:`~.interfaces.Refusal` with the control plane's answer when it refuses.
        self.recording_control: RecordingControl | None = None

    # -- hooks for the NATS endpoints ---------------------------------------------------------------
    def on_meeting_opened(self, fn: Callable[[Meeting], None]) -> None:
        self._opened.append(fn)

    def on_meeting_closed(self, fn: Callable[[Meeting], None]) -> None:
        self._closed.append(fn)

    def meeting(self, meeting_id: str) -> Meeting | None:
        return self.meetings.get(meeting_id)

    def counts(self) -> tuple[int, int, int, int]:
        """(meetings, participants, tracks, forwarded subscriber streams) for the heartbeat."""
        ms = list(self.meetings.values())
        return (len(ms), sum(len(mt.participants) for mt in ms), sum(mt.track_count() for mt in ms),
                sum(mt.room.stats().forwarded_streams for mt in ms if mt.room is not None))

    # -- Entry ------------------------------------------------------------------------------------
    async def join(self, claims: JoinClaims, request: m.Join, link: Link) -> ParticipantSeat:
        if self.draining:
            raise Refusal("draining", "this edge is stopping: ask for a new token to be placed elsewhere")
        ended_at = self._ended.get(claims.mid)
        if ended_at is not None and claims.iat < ended_at:
            raise Refusal("meeting_ended", "this meeting has ended")
        mt = self.meetings.get(claims.mid)
        if mt is None and self.policy_source is not None:  # opening it here: the newest recorded policy
            recorded = await self.policy_source(claims.mid)
            if recorded is not None:
                self.book.adopt(claims.mid, recorded)
            mt = self.meetings.get(claims.mid)  # opened by another join meanwhile
        if self.book.adopt(claims.mid, claims.pol) and mt is not None:
            mt.changed()
        try:
            self.book.check_token(claims)
            self.book.check_entry(claims, mt.seats_taken(except_token=claims.jti) if mt is not None else 0)
        except Refusal as r:
            log.info("join refused", extra={"meeting": claims.mid, "code": r.code, "token_id": claims.jti,
                                            "role": claims.role})
            raise
        if claims.hidden and claims.perms.record and not publish_sources(claims) and not (
                mt is not None and (mt.remote or any(not q.hidden for q in mt.participants.values()))):
            raise Refusal("meeting_empty", "nobody is in the meeting on this edge to record")
        mt = mt or self._open(claims)
        p = await mt.add(claims, link, request.id, frozenset(c.lower() for c in request.video_codecs))
        if p.state != "left":
            self._resume[p.resume_token] = (mt, p)
        return ParticipantSeat(mt, p, chat_max_chars=self.chat_max_chars)

    async def resume(self, request: m.Join, link: Link) -> ParticipantSeat:
        found = self._resume.get(request.resume_token)
        if found is None:
            raise Refusal("resume_failed", "nothing to resume (the grace period is over or the token is "
                                           "unknown): join again with a join token", "resume_token")
        mt, p = found
        if request.meeting_id and request.meeting_id != mt.id:
            raise Refusal("resume_failed", "the resume token belongs to another meeting", "meeting_id")
        await mt.attach(p, link, request)
        return ParticipantSeat(mt, p, chat_max_chars=self.chat_max_chars)

    # -- meetings ---------------------------------------------------------------------------------
    def _open(self, claims: JoinClaims) -> Meeting:
        mt = Meeting(claims.mid, edge_id=self.edge_id, epoch=claims.ep, make_room=self.make_room, emit=self.emit,
                     resume_grace=self.resume_grace, replay=self.replay, ice_servers=self.ice_servers,
                     on_left=self._forget, on_closed=self._meeting_closed, book=self.book)
        mt.recording_control = lambda *args: self._recording_control(*args)
        self.meetings[mt.id] = mt
        log.info("meeting opened", extra={"meeting": mt.id})
        for fn in self._opened:
            fn(mt)
        return mt

    async def _recording_control(self, meeting_id: str, action: str, account_id: str, participant_id: str) -> None:
        if self.recording_control is None:
            raise Refusal("unavailable", "recording is not available on this edge")
        await self.recording_control(meeting_id, action, account_id, participant_id)

    def _forget(self, p: Participant) -> None:
        self._resume.pop(p.resume_token, None)
        self.departures += 1

    def _meeting_closed(self, mt: Meeting) -> None:
        if self.meetings.get(mt.id) is mt:
            del self.meetings[mt.id]
        if mt.ended:
            now = time.time()
            self._ended = {k: v for k, v in self._ended.items() if now - v < ENDED_MEMORY}
            self._ended[mt.id] = now
        log.info("meeting closed", extra={"meeting": mt.id, "reason": mt.closed_reason})
        for fn in self._closed:
            fn(mt)

    # -- stopping ---------------------------------------------------------------------------------
    def drain(self, reason: str = "edge stopping") -> None:
        """Refuse new joins and tell everyone connected that the edge is going away."""
        if self.draining:
            return
        self.draining = True
        for mt in self.meetings.values():
            for p in mt.participants.values():
                p.send(m.Draining(reason=reason))

    async def close(self) -> None:
        """Everyone leaves (reason ``edge_stopped``) and every meeting closes on this edge."""
        self.draining = True
        for mt in list(self.meetings.values()):
            await mt.end(by="", reason="edge_stopped", code=CLOSE_EDGE_STOPPING, leave_reason="edge_stopped",
                         notice=m.Draining(reason="edge stopped"))
