"""HTTP: meetings (``/api/v1/meetings``): create, read, list, change, delete, calendar, join, restart."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from ..auth.principal import Principal
from ..clients import client_address
from ..services import Services
from .schemas import JoinRead, JoinRequest, MeetingCreate, MeetingRead, MeetingUpdate, OccurrenceRead


def _services(request: Request) -> Services:
    return request.app.state.services


class MeetingController(Controller):
    path = "/api/v1/meetings"
    tags = ["meetings"]

    @post("/", summary="Create a meeting (hosts and admins)", status_code=HTTP_201_CREATED)
    async def create_meeting(self, request: Request, principal: Principal, data: MeetingCreate) -> MeetingRead:
        return await _services(request).meetings.create(principal, data)

    @get("/", summary="Meetings you own or co-host: all, upcoming, or live")
    async def list_meetings(self, request: Request, principal: Principal,
                            which: str = Parameter(query="scope", default="mine", max_length=16)
                            ) -> list[MeetingRead]:
        return await _services(request).meetings.list_meetings(principal, which)

    @get("/{meeting_id:str}", summary="One meeting")
    async def get_meeting(self, request: Request, maybe_principal: Principal | None, meeting_id: str) -> MeetingRead:
        return await _services(request).meetings.read(maybe_principal, meeting_id)

    @patch("/{meeting_id:str}", summary="Change a meeting (owner, co-hosts, admins)")
    async def update_meeting(self, request: Request, principal: Principal, meeting_id: str,
                             data: MeetingUpdate) -> MeetingRead:
        services = _services(request)
        read = await services.meetings.update(principal, meeting_id, data)
        if data.locked is not msgspec.UNSET or data.max_participants is not msgspec.UNSET:
            await services.commands.push_policy(meeting_id, by=principal.account_id)  # the edges enforce it
        return read

    @delete("/{meeting_id:str}", summary="Delete a meeting (owner, co-hosts, admins)", status_code=HTTP_204_NO_CONTENT)
    async def delete_meeting(self, request: Request, principal: Principal, meeting_id: str) -> None:
        services = _services(request)
        row = await services.meetings.managed_row(principal, meeting_id, "delete it")
        if row["state"] == "live":  # whoever is still connected is told and disconnected
            await services.commands.end_quietly(meeting_id, "the meeting was deleted")
        await services.meetings.delete(principal, meeting_id)
        await services.placement.forget(meeting_id)

    @get("/{meeting_id:str}/occurrences", summary="Occurrences of the meeting or series")
    async def occurrences(self, request: Request, maybe_principal: Principal | None, meeting_id: str,
                          after: datetime | None = Parameter(default=None, description="only those ending later"),
                          limit: int = Parameter(default=20, ge=1, le=500)) -> list[OccurrenceRead]:
        return await _services(request).meetings.occurrences(maybe_principal, meeting_id, after=after, limit=limit)

    @get("/{meeting_id:str}/ics", summary="The meeting or series as an iCalendar (.ics) file")
    async def ics(self, request: Request, maybe_principal: Principal | None, meeting_id: str) -> Response[str]:
        name, text = await _services(request).meetings.ics(maybe_principal, meeting_id)
        return Response(text, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @post("/{meeting_id:str}/restart", summary="Make an ended meeting joinable again", status_code=HTTP_200_OK)
    async def restart(self, request: Request, principal: Principal, meeting_id: str) -> MeetingRead:
        return await _services(request).meetings.restart(principal, meeting_id)

    @post("/{meeting_id:str}/join", summary="A join token and the edge to use", status_code=HTTP_200_OK)
    async def join(self, request: Request, maybe_principal: Principal | None, meeting_id: str,
                   data: JoinRequest | None = None) -> JoinRead:
        addr = client_address(request)
        return await _services(request).joins.join(maybe_principal, meeting_id, data or JoinRequest(), addr,
                                                   request.headers.get("x-cc-region"))
