"""HTTP: breakout rooms of a live meeting (``/api/v1/meetings/{id}/breakouts``)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from ..auth.principal import Principal
from ..services import Services
from .schemas import BreakoutCreate, BreakoutRead, BroadcastBody, BroadcastRead, ChooseBody, ChooseRead, CloseBody
from .service import BreakoutService

_B = "/{meeting_id:str}/breakouts"


def _breakouts(request: Request) -> BreakoutService:
    services: Services = request.app.state.services
    assert services.breakouts is not None
    return services.breakouts


class BreakoutController(Controller):
    path = "/api/v1/meetings"
    tags = ["breakout rooms"]

    @post(_B, summary="Open breakout rooms and send people to them (owner, co-hosts, admins)",
          status_code=HTTP_201_CREATED)
    async def open_rooms(self, request: Request, principal: Principal, meeting_id: str,
                         data: BreakoutCreate) -> BreakoutRead:
        return await _breakouts(request).create(principal, meeting_id, data)

    @get(_B, summary="The meeting's breakout rooms: who was sent where, who is in each now")
    async def read_rooms(self, request: Request, principal: Principal, meeting_id: str) -> BreakoutRead:
        return await _breakouts(request).read(principal, meeting_id)

    @post(_B + "/broadcast", summary="Show a message to everyone, in every room", status_code=HTTP_200_OK)
    async def broadcast(self, request: Request, principal: Principal, meeting_id: str,
                        data: BroadcastBody) -> BroadcastRead:
        return await _breakouts(request).broadcast(principal, meeting_id, data.text)

    @post(_B + "/close", summary="Bring everyone back to the main meeting", status_code=HTTP_200_OK)
    async def close_rooms(self, request: Request, principal: Principal, meeting_id: str,
                          data: CloseBody | None = None) -> BreakoutRead:
        return await _breakouts(request).close(principal, meeting_id, (data or CloseBody()).reason)

    @post(_B + "/join", summary="A join answer for a room of the open set, for the holder of a ticket",
          status_code=HTTP_200_OK)
    async def join_room(self, request: Request, meeting_id: str, data: ChooseBody) -> ChooseRead:
        return await _breakouts(request).choose(meeting_id, data)
