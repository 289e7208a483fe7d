"""HTTP: who is in a meeting now (the roster, lobby included) and who attended when."""

from __future__ import annotations

import time

from litestar import Controller, Request, get

from ..auth.principal import Principal
from ..meetings.service import iso_utc
from ..services import Services
from . import repository as repo
from .schemas import AttendanceRead, ParticipantRead, RosterRead, TrackRead


class RosterController(Controller):
    path = "/api/v1/meetings"
    tags = ["meetings"]

    @get("/{meeting_id:str}/participants", summary="Who is in the meeting now, lobby included")
    async def participants(self, request: Request, principal: Principal, meeting_id: str) -> RosterRead:
        services: Services = request.app.state.services
        row = await services.meetings.managed_row(principal, meeting_id, "see who is in it")
        tracks: dict[str, list[TrackRead]] = {}
        for t in await repo.tracks(services.db, meeting_id):
            tracks.setdefault(t["participant_id"], []).append(
                TrackRead(track_id=t["track_id"], kind=t["kind"], source=t["source"]))
        people = [ParticipantRead(
            participant_id=r["participant_id"], account_id=r["account_id"], display_name=r["display_name"],
            role=r["role"], edge_id=r["edge_id"], lobby=bool(r["lobby"]), lost=r["lost_at"] is not None,
            muted={"audio": bool(r["audio_muted"]), "video": bool(r["video_muted"]),
                   "screen": bool(r["screen_muted"])},
            tracks=tracks.get(r["participant_id"], []), joined_at=iso_utc(r["joined_at"]),
            waiting_since=iso_utc(r["waiting_since"])) for r in await repo.roster(services.db, meeting_id)]
        return RosterRead(meeting_id=meeting_id, state=row["state"],
                          present=sum(not p.lobby and not p.lost for p in people),
                          waiting=sum(p.lobby for p in people), participants=people)

    @get("/{meeting_id:str}/attendance", summary="Who attended, when they joined and left")
    async def attendance(self, request: Request, principal: Principal, meeting_id: str) -> list[AttendanceRead]:
        services: Services = request.app.state.services
        await services.meetings.managed_row(principal, meeting_id, "see its attendance")
        now = time.time()
        return [AttendanceRead(
            participant_id=r["participant_id"], account_id=r["account_id"], display_name=r["display_name"],
            role=r["role"], edge_id=r["edge_id"], joined_at=iso_utc(r["joined_at"]) or "",
            left_at=iso_utc(r["left_at"]), left_reason=r["left_reason"],
            duration_s=round((r["left_at"] if r["left_at"] is not None else now) - r["joined_at"], 3))
            for r in await repo.attendance(services.db, meeting_id)]
