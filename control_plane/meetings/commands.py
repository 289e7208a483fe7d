"""Commands to the edge hosting a meeting: kick, mute, admit, deny, promote, end for all.

A command goes as NATS request/reply to ``cc.cmd.<meeting>.<verb>`` carrying the placement epoch,
and waits ``meetings.command_timeout`` for the edge's :class:`nodes.wire.CommandReply`. No
responder: 503 ("no edge hosts this meeting"); no reply in time: 504; the edge refused: 409 with
its message.
"""

from __future__ import annotations

import logging
import time

from litestar.exceptions import ServiceUnavailableException

from nodes import subjects, wire
from nodes.bus import Bus

from .. import audit
from ..auth.principal import Principal
from ..edges.ask import ask_edge
from ..errors import FieldError
from ..events import repository as roster
from ..placement.service import PlacementService, PlacementUnavailable
from .schemas import CommandRead
from .service import MeetingService, entry_policy

log = logging.getLogger(__name__)

VERBS = {wire.Kick: "kick", wire.Mute: "mute", wire.Admit: "admit", wire.Deny: "deny", wire.Promote: "promote",
         wire.EndMeeting: "end", wire.Policy: "policy", wire.Breakout: "breakout", wire.Notice: "notice"}


class NoEdge(ServiceUnavailableException):
    def __init__(self) -> None:
        super().__init__("no edge hosts this meeting")


class CommandService:
    def __init__(self, bus: Bus, placement: PlacementService, meetings: MeetingService, *, timeout: float) -> None:
        self.bus = bus
        self.placement = placement
        self.meetings = meetings
        self.timeout = timeout

    async def _epoch(self, meeting_id: str) -> int:
        try:
            found = await self.placement.current(meeting_id)
        except PlacementUnavailable as exc:
            raise ServiceUnavailableException(f"placement is unavailable: {exc}") from None
        if found is None:
            raise NoEdge()
        return found[0].epoch

    async def request(self, command: wire._Cmd) -> wire.CommandReply:
        """Send *command*; return the edge's successful reply or raise the HTTP error it maps to."""
        subject = subjects.command(command.meeting_id, VERBS[type(command)])
        reply = await ask_edge(self.bus, subject, command, timeout=self.timeout, what="command", nobody=NoEdge())
        match reply:
            case wire.ErrorReply():
                raise FieldError("command", f"the edge refused: {reply.detail or reply.error}", status_code=409)
            case wire.CommandReply(ok=False):
                raise FieldError("command", f"the edge refused: {reply.error or 'no reason given'}", status_code=409)
        log.info("command carried out", extra={"meeting_id": command.meeting_id, "command": VERBS[type(command)],
                                               "command_id": command.command_id, "edge_id": reply.edge_id})
        return reply

    async def to_meeting(self, command: wire._Cmd) -> wire.CommandReply:
        """Send *command* at its meeting's current placement epoch (:class:`NoEdge` when no edge hosts it)."""
        command.epoch = await self._epoch(command.meeting_id)
        return await self.request(command)

    async def participant_command(self, principal: Principal, meeting_id: str, verb: str, participant_id: str,
                                  **fields: str) -> CommandRead:
        await self.meetings.managed_row(principal, meeting_id, f"{verb} participants")
        promoted_account = ""
        if verb == "promote":
            who = await roster.participant(self.meetings.db, meeting_id, participant_id)
            if who is None:
                raise FieldError("participant_id", "is not in this meeting", status_code=404)
            if not who["account_id"] or who["account_id"].startswith("guest:") or who["role"] == "guest":
                raise FieldError("participant_id", "a guest cannot be promoted (guests may not moderate)",
                                 status_code=409)
            promoted_account = who["account_id"]
        epoch = await self._epoch(meeting_id)
        cls = {"kick": wire.Kick, "mute": wire.Mute, "admit": wire.Admit, "deny": wire.Deny,
               "promote": wire.Promote}[verb]
        command = cls(meeting_id=meeting_id, epoch=epoch, by=principal.account_id, participant_id=participant_id,
                      **fields)
        reply = await self.request(command)
        if promoted_account:
            await self.meetings.repo.add_moderator(meeting_id, promoted_account, principal.account_id, time.time())
        details = {k: v for k, v in fields.items() if v}
        if promoted_account:
            details["account_id"] = promoted_account
        await audit.record(self.meetings.db, audit.actor_of(principal), f"meeting.{verb}", target_kind="participant",
                           target_id=participant_id, meeting_id=meeting_id,
                           details={**details, "edge_id": reply.edge_id})
        return CommandRead(command_id=command.command_id, ok=True, edge_id=reply.edge_id, epoch=epoch)

    async def end(self, principal: Principal, meeting_id: str, reason: str) -> CommandRead:
        """End for all: the edge disconnects everyone and the meeting is marked ended."""
        row = await self.meetings.managed_row(principal, meeting_id, "end it")
        if row["state"] == "ended":
            raise FieldError("state", "the meeting has already ended", status_code=409)
        command = wire.EndMeeting(meeting_id=meeting_id, by=principal.account_id, reason=reason)
        edge_id = ""
        try:
            command.epoch = await self._epoch(meeting_id)
            edge_id = (await self.request(command)).edge_id
        except NoEdge:
            pass  # nobody is connected anywhere: ending is only a state change
        await self.meetings.mark_ended(meeting_id, reason="ended")
        await audit.record(self.meetings.db, audit.actor_of(principal), "meeting.end", target_kind="meeting",
                           target_id=meeting_id, meeting_id=meeting_id,
                           details={"reason": reason, "edge_id": edge_id} if reason else {"edge_id": edge_id})
        return CommandRead(command_id=command.command_id, ok=True, edge_id=edge_id, epoch=command.epoch,
                           state="ended")

    async def push_policy(self, meeting_id: str, by: str = "") -> str:
        """Tell the edges its lock and participant limit changed: recorded next to its placement
        (read by the edge that opens the meeting) and sent as a ``policy`` command to the edges
        hosting it. Best effort (the change is saved and the next tokens carry it); returns the
        answering edge ("" when none)."""
        row = await self.meetings.row(meeting_id)
        try:  # for the edge that opens the meeting next (with a token issued before the change)
            await self.placement.set_policy(meeting_id, entry_policy(row))
        except PlacementUnavailable as exc:
            log.warning("policy not recorded for the edges", extra={"meeting_id": meeting_id, "error": str(exc)})
        try:
            epoch = await self._epoch(meeting_id)
            reply = await self.request(wire.Policy(meeting_id=meeting_id, epoch=epoch, by=by,
                                                   policy=entry_policy(row)))
        except NoEdge:
            return ""
        except Exception as exc:  # noqa: BLE001 - the change is saved; tokens carry it from now on
            log.warning("policy not confirmed by the edge", extra={"meeting_id": meeting_id, "error": repr(exc)})
            return ""
        return reply.edge_id

    async def end_quietly(self, meeting_id: str, reason: str) -> None:
        """Best effort EndMeeting (the empty-meeting sweeper): failures are logged, not raised."""
        try:
            epoch = await self._epoch(meeting_id)
            await self.request(wire.EndMeeting(meeting_id=meeting_id, epoch=epoch, reason=reason))
        except NoEdge:
            return
        except Exception as exc:  # noqa: BLE001
            log.warning("end command not confirmed", extra={"meeting_id": meeting_id, "error": repr(exc)})
