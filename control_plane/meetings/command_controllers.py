"""HTTP: moderating a live meeting (owner, co-hosts, admins). Each call is one command to its edge."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, post
from litestar.status_codes import HTTP_200_OK

from ..auth.principal import Principal
from ..errors import FieldError
from ..services import Services
from .commands import CommandService
from .schemas import CommandRead, EndBody, KickBody, MuteBody, ParticipantId

_P = "/{meeting_id:str}/participants/{participant_id:str}"


def _commands(request: Request) -> CommandService:
    services: Services = request.app.state.services
    return services.commands


def _pid(participant_id: str) -> str:
    try:
        return msgspec.convert(participant_id, ParticipantId)
    except msgspec.ValidationError:
        raise FieldError("participant_id", "is not a participant id", status_code=404) from None


class CommandController(Controller):
    path = "/api/v1/meetings"
    tags = ["meetings"]

    @post(_P + "/kick", summary="Disconnect a participant", status_code=HTTP_200_OK)
    async def kick(self, request: Request, principal: Principal, meeting_id: str, participant_id: str,
                   data: KickBody | None = None) -> CommandRead:
        return await _commands(request).participant_command(principal, meeting_id, "kick", _pid(participant_id),
                                                            reason=(data or KickBody()).reason)

    @post(_P + "/mute", summary="Mute a participant's audio, video or screen", status_code=HTTP_200_OK)
    async def mute(self, request: Request, principal: Principal, meeting_id: str, participant_id: str,
                   data: MuteBody | None = None) -> CommandRead:
        return await _commands(request).participant_command(principal, meeting_id, "mute", _pid(participant_id),
                                                            kind=(data or MuteBody()).kind)

    @post(_P + "/promote", summary="Make a participant a moderator", status_code=HTTP_200_OK)
    async def promote(self, request: Request, principal: Principal, meeting_id: str,
                      participant_id: str) -> CommandRead:
        return await _commands(request).participant_command(principal, meeting_id, "promote", _pid(participant_id))

    @post(_P + "/admit", summary="Let a participant in from the lobby", status_code=HTTP_200_OK)
    async def admit(self, request: Request, principal: Principal, meeting_id: str, participant_id: str) -> CommandRead:
        return await _commands(request).participant_command(principal, meeting_id, "admit", _pid(participant_id))

    @post(_P + "/deny", summary="Turn a participant in the lobby away", status_code=HTTP_200_OK)
    async def deny(self, request: Request, principal: Principal, meeting_id: str, participant_id: str) -> CommandRead:
        return await _commands(request).participant_command(principal, meeting_id, "deny", _pid(participant_id))

    @post("/{meeting_id:str}/end", summary="End the meeting for everyone", status_code=HTTP_200_OK)
    async def end(self, request: Request, principal: Principal, meeting_id: str,
                  data: EndBody | None = None) -> CommandRead:
        return await _commands(request).end(principal, meeting_id, (data or EndBody()).reason)
