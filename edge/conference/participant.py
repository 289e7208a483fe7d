"""One participant of a meeting on this edge: who it is, what it may do, and its message stream.

Every message the conference sends a participant goes through :meth:`Participant.send`, which
numbers it (``seq``) and keeps it in a bounded replay buffer. The buffer outlives the socket: a
participant whose socket dropped keeps collecting messages, and a resuming socket gets those it
missed. Replies that are not about the meeting (``error``, ``pong``, ``ok``) bypass the buffer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import Literal

import msgspec

from nodes.claims import JoinClaims

from .. import protocol as m
from ..sfu.interfaces import Grants, TrackInfo
from .interfaces import Link

State = Literal["lobby", "in", "left"]

#: Protocol source ↔ the ``kind`` of :class:`nodes.wire.Mute` and :class:`nodes.wire.ParticipantMuted`.
SOURCE_OF_KIND = {"audio": "microphone", "video": "camera", "screen": "screen"}
KIND_OF_SOURCE = {v: k for k, v in SOURCE_OF_KIND.items()}
#: The media kind each source must carry.
MEDIA_OF_SOURCE = {"microphone": "audio", "camera": "video", "screen": "video"}


def new_participant_id() -> str:
    """12 characters of base64url: safe in a NATS subject token."""
    return secrets.token_urlsafe(9)


def publish_sources(claims: JoinClaims) -> frozenset[str]:
    p = claims.perms
    return frozenset(s for s, ok in (("microphone", p.publish_audio), ("camera", p.publish_video),
                                     ("screen", p.publish_screen)) if ok)


class Participant:
    def __init__(self, claims: JoinClaims, *, replay: int) -> None:
        self.id = new_participant_id()
        self.account_id = claims.sub
        self.name = claims.name
        self.role = claims.role
        self.token_id = claims.jti
        #: The token's expiry: a kicked participant's token is refused until then.
        self.token_exp = float(claims.exp)
        self.publish = publish_sources(claims)
        #: A recorder (see :attr:`nodes.claims.JoinClaims.hidden`): seen by nobody.
        self.hidden = claims.hidden and claims.perms.record and not self.publish
        self.subscribe = claims.perms.subscribe or self.hidden
        self.chat = claims.perms.chat and not self.hidden
        self.moderator = claims.perms.moderate and not self.hidden
        self._record_grant = claims.perms.record
        #: Video codecs its client can decode (lower case; empty: any), from its ``join``.
        self.video_codecs: frozenset[str] = frozenset()
        #: A recorder that failed says why before it leaves (``recording_failed``).
        self.record_error = ""
        self.state: State = "lobby" if claims.lobby and not self.hidden else "in"
        self.resume_token = secrets.token_urlsafe(24)
        self.muted: set[str] = set()
        #: source → who last changed its mute state
        self.muted_by: dict[str, str] = {}
        #: When it raised its hand (0: not raised), and who last raised or lowered it.
        self.hand = 0.0
        self.hand_by = ""
        #: When it last reacted (monotonic): reactions are limited to a few a second.
        self.reacted = 0.0
        self.tracks: dict[str, TrackInfo] = {}
        self.pc_state: dict[str, str] = {}
        self.link: Link | None = None
        self.grace: asyncio.TimerHandle | None = None
        self.since = time.time()
        #: Order of entry into the meeting (the roster's order).
        self.entered = 0
        #: When it entered (wall clock): the roster's order across edges.
        self.entered_at = 0.0
        self.has_peer = False
        self._seq = 0
        self._buffer: deque[m._Out] = deque(maxlen=max(replay, 1))

    # -- what the participant may do -----------------------------------------------------------
    def grants(self) -> Grants:
        return Grants(publish=self.publish, subscribe=self.subscribe, video_codecs=self.video_codecs,
                      full_quality=self.hidden)

    def grants_out(self) -> m.GrantsOut:
        return m.GrantsOut(publish=sorted(self.publish), subscribe=self.subscribe, chat=self.chat,  # type: ignore[arg-type]
                           moderate=self.moderator, record=self.record)

    @property
    def record(self) -> bool:
        """May start and stop recording: a moderator whose token has the record grant."""
        return self._record_grant and self.moderator

    # -- how others see it --------------------------------------------------------------------
    def track_out(self, t: TrackInfo) -> m.TrackOut:
        return m.TrackOut(track_id=t.track_id, participant_id=self.id, kind=t.kind, source=t.source,
                          codec=t.codec, muted=t.source in self.muted)

    def out(self) -> m.ParticipantOut:
        return m.ParticipantOut(participant_id=self.id, name=self.name, role=self.role,
                                moderator=self.moderator, muted=sorted(self.muted),  # type: ignore[arg-type]
                                tracks=[self.track_out(t) for t in self.tracks.values()], hand=self.hand)

    def lobby_entry(self) -> m.LobbyEntry:
        return m.LobbyEntry(participant_id=self.id, name=self.name, since=self.since)

    # -- the message stream -------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self._seq

    def send(self, msg: m._Out, re: m.RequestId = None) -> None:
        """Number *msg*, keep it for replay, and pass it to the socket if there is one."""
        if self.state == "left":
            return
        self._seq += 1
        numbered = msgspec.structs.replace(msg, seq=self._seq, re=re)
        self._buffer.append(numbered)
        if self.link is not None:
            self.link.send(numbered)

    def reply(self, msg: m._Out, re: m.RequestId = None) -> None:
        """A reply outside the numbered stream (``ok``, ``resumed``)."""
        if self.link is not None:
            self.link.send(msgspec.structs.replace(msg, seq=0, re=re))

    def missed(self, last_seq: int) -> tuple[list[m._Out], bool]:
        """Messages after *last_seq*, and whether the buffer still holds all of them."""
        kept = [msg for msg in self._buffer if msg.seq > last_seq]
        oldest = self._buffer[0].seq if self._buffer else self._seq + 1
        return kept, oldest <= last_seq + 1

    def cancel_grace(self) -> None:
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None
