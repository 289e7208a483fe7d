"""A participant's seat: the :class:`~.interfaces.Seat` a signaling session holds.

Requests are dispatched with ``match``; each is checked against the participant's grants from
its join token (publish sources, chat, moderate) before :mod:`.actions` carries it out.
"""

from __future__ import annotations

from ..signaling import messages as m
from . import actions
from .interfaces import Link, Refusal
from .meeting import Meeting
from .participant import Participant


class ParticipantSeat:
    def __init__(self, meeting: Meeting, participant: Participant, *, chat_max_chars: int) -> None:
        self.meeting = meeting
        self.participant = participant
        self.participant_id = participant.id
        self.chat_max_chars = chat_max_chars

    def _moderator(self, what: str) -> None:
        if not self.participant.moderator:
            raise Refusal("forbidden", f"only moderators may {what}")

    def _other(self, participant_id: str, what: str) -> Participant:
        target = self.meeting.target(participant_id)
        if target is self.participant:
            raise Refusal("invalid", f"you cannot {what} yourself", "participant_id")
        return target

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
            case m.Mute(participant_id=pid, source=source, muted=muted):
                target = p if pid in ("", p.id) else mt.target(pid)
                if target is not p:
                    self._moderator("mute others")
                    if not muted:
                        raise Refusal("forbidden", "only the participant can unmute itself", "muted")
                actions.mute(mt, target, source, muted, by=p.id, requester=p, re=msg.id)
            case m.Chat(text=text, to=to):
                if not p.chat:
                    raise Refusal("forbidden", "you may not chat in this meeting")
                actions.chat(mt, p, text, to, max_chars=self.chat_max_chars, re=msg.id)
            case m.Admit(participant_id=pid):
                self._moderator("admit from the lobby")
                await actions.admit(mt, self._other(pid, "admit"), by=p.id)
                actions.ack(p, msg.id)
            case m.Deny(participant_id=pid, reason=reason):
                self._moderator("deny entry")
                await actions.deny(mt, self._other(pid, "deny"), by=p.id, reason=reason)
                actions.ack(p, msg.id)
            case m.Kick(participant_id=pid, reason=reason):
                self._moderator("kick")
                await actions.kick(mt, self._other(pid, "kick"), by=p.id, reason=reason)
                actions.ack(p, msg.id)
            case m.Promote(participant_id=pid):
                self._moderator("promote")
                actions.promote(mt, self._other(pid, "promote"), by=p.id)
                actions.ack(p, msg.id)
            case m.EndMeeting(reason=reason):
                self._moderator("end the meeting")
                await mt.end(by=p.id, reason=reason or "ended by a moderator")
            case m.Join():
                raise Refusal("already_joined", "this socket has already joined", "type")
            case _:
                raise Refusal("invalid", f"{type(msg).__name__} is not handled here", "type")

    async def leave(self) -> None:
        await self.meeting.leave(self.participant, "left", close_reason="left")

    def detach(self, link: Link) -> None:
        self.meeting.detach(self.participant, link)
