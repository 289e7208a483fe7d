"""A participant's seat: the :class:`~.interfaces.Seat` a signaling session holds.

Requests are dispatched with ``match``; each is checked against the participant's grants from
its join token (publish sources, chat, moderate) before :mod:`.actions` carries it out.
"""

from __future__ import annotations

from .. import protocol as m
from . import actions
from .interfaces import Link, Refusal
from .meeting import Meeting
from .participant import Participant
from .remote import RemoteParticipant


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
        if isinstance(msg, (m.Mute, m.Admit, m.Deny, m.Kick, m.Promote)) and msg.participant_id \
                and msg.participant_id not in mt.participants and msg.participant_id in mt.remote:
            await self._on_remote(mt.remote[msg.participant_id], msg)
            return
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
                await mt.end_for_all(by=p.id, reason=reason or "ended by a moderator")
            case m.Join():
                raise Refusal("already_joined", "this socket has already joined", "type")
            case _:
                raise Refusal("invalid", f"{type(msg).__name__} is not handled here", "type")

    async def _on_remote(self, target: RemoteParticipant, msg: m.Mute | m.Admit | m.Deny | m.Kick | m.Promote) -> None:
        """A moderator's request about a participant of another edge: that edge carries it out."""
        mesh = self.meeting.mesh
        if mesh is None:
            raise Refusal("not_found", f"no participant {target.id!r} in this meeting", "participant_id")
        match msg:
            case m.Mute(source=source, muted=muted):
                self._moderator("mute others")
                if not muted:
                    raise Refusal("forbidden", "only the participant can unmute itself", "muted")
                await mesh.act(target, "mute", by=self.participant.id, source=source)
            case m.Admit() | m.Deny():
                self._moderator("admit from the lobby" if isinstance(msg, m.Admit) else "deny entry")
                if target.state != "lobby":
                    raise Refusal("invalid", f"participant {target.id!r} is not waiting in the lobby", "participant_id")
                await mesh.act(target, "admit" if isinstance(msg, m.Admit) else "deny", by=self.participant.id,
                               reason=getattr(msg, "reason", ""))
            case m.Kick(reason=reason):
                self._moderator("kick")
                await mesh.act(target, "kick", by=self.participant.id, reason=reason)
            case m.Promote():
                self._moderator("promote")
                actions.check_promotable(target.role, "remote")  # its edge checks the account too
                await mesh.act(target, "promote", by=self.participant.id)
        actions.ack(self.participant, msg.id)

    async def leave(self) -> None:
        await self.meeting.leave(self.participant, "left", close_reason="left")

    def detach(self, link: Link) -> None:
        self.meeting.detach(self.participant, link)
