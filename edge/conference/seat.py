"""A participant's seat: the :class:`~.interfaces.Seat` a signaling session holds.

Requests are dispatched with ``match``; each is checked against the participant's grants from
its join token (publish sources, chat, moderate, record) before :mod:`.actions` carries it out. A
moderator's action (kick, mute someone else, admit, deny, promote, end for all) is checked here
only for who asks; :func:`.moderation.apply` does the rest, as for commands and the mesh.
"""

from __future__ import annotations

from .. import protocol as m
from . import actions, moderation
from .interfaces import Link, Refusal
from .meeting import Meeting
from .participant import Participant

#: What a participant needs the moderate grant for, by request type.
_MODERATOR_ONLY = {m.Kick: "kick", m.Admit: "admit from the lobby", m.Deny: "deny entry", m.Promote: "promote",
                   m.EndMeeting: "end the meeting"}


class ParticipantSeat:
    def __init__(self, meeting: Meeting, participant: Participant, *, chat_max_chars: int) -> None:
        self.meeting = meeting
        self.participant = participant
        self.participant_id = participant.id
        self.chat_max_chars = chat_max_chars

    def _moderator(self, what: str) -> None:
        if not self.participant.moderator:
            raise Refusal("forbidden", f"only moderators may {what}")

    async def request(self, msg: m.ClientMessage) -> None:
        p, mt = self.participant, self.meeting
        if p.state == "left" or mt.closed:
            raise Refusal("not_joined", "you are no longer in the meeting")
        if p.state == "lobby":
            raise Refusal("in_lobby", "you are waiting in the lobby until a moderator admits you")
        match msg:
            case m.Offer():
                await actions.publish(mt, p, msg)
            case m.Answer():
                await actions.subscribe_answer(mt, p, msg)
            case m.Ice():
                await actions.ice(mt, p, msg)
            case m.Mute(participant_id=pid, source=source, muted=muted) if pid in ("", p.id):
                actions.mute(mt, p, source, muted, by=p.id, requester=p, re=msg.id)
            case m.Mute(muted=muted):
                self._moderator("mute others")
                if not muted:
                    raise Refusal("forbidden", "only the participant can unmute itself", "muted")
                await moderation.apply(mt, moderation.from_signaling(msg, p.id), requester=p, re=msg.id)
            case m.View():
                actions.view(mt, p, msg)
            case m.Hand(participant_id=pid, raised=raised) if pid in ("", p.id):
                actions.hand(mt, p, raised, by=p.id, requester=p, re=msg.id)
            case m.Hand(raised=raised):
                if raised:
                    raise Refusal("forbidden", "only the participant can raise its own hand", "raised")
                self._moderator("lower others' hands")
                await moderation.apply(mt, moderation.from_signaling(msg, p.id), requester=p, re=msg.id)
            case m.React(reaction=reaction):
                actions.react(mt, p, reaction, re=msg.id)
            case m.Chat(text=text, to=to):
                if not p.chat:
                    raise Refusal("forbidden", "you may not chat in this meeting")
                actions.chat(mt, p, text, to, max_chars=self.chat_max_chars, re=msg.id)
            case m.Kick() | m.Admit() | m.Deny() | m.Promote() | m.EndMeeting():
                self._moderator(_MODERATOR_ONLY[type(msg)])
                await moderation.apply(mt, moderation.from_signaling(msg, p.id), requester=p, re=msg.id)
            case m.Record(action=action):
                if not p.record:
                    raise Refusal("forbidden", "only moderators with the record grant may start or stop recording")
                await actions.record(mt, p, action, re=msg.id)
            case m.RecordingFailed(error=error):
                if not p.hidden:
                    raise Refusal("forbidden", "only a recorder reports a failed recording", "type")
                p.record_error = error or "the recording failed"
                p.reply(m.Ok(), re=msg.id)
            case m.Join():
                raise Refusal("already_joined", "this socket has already joined", "type")
            case _:
                raise Refusal("invalid", f"{type(msg).__name__} is not handled here", "type")

    async def leave(self) -> None:
        await self.meeting.leave(self.participant, "left", close_reason="left")

    def detach(self, link: Link) -> None:
        self.meeting.detach(self.participant, link)
