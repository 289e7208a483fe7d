"""Joining a meeting: the checks, the placement, and the join token.

Checks, in order: a guest needs a meeting that allows guests (401 without a session, 403 for a
guest account) and, without a session, a name (400);
an ended meeting cannot be joined (409); a locked meeting admits only its hosts and moderators
(403); a password, when set, must be given and right (403 naming ``password``; the meeting's
hosts need none); a full meeting refuses (409). Then the participant's region is told (the body's
``region``, else the ``X-CC-Region`` header — 400 naming it when it is not a region name —, else
the client address, else the default), the meeting is placed (:mod:`control_plane.placement`;
503 when no edge is live) and a token is signed with the permissions
:mod:`control_plane.tokens.permissions` derives, for the chosen edge and its region's other edges
(``alt``, also returned with their URLs as ``alternates``). The token carries the meeting's lock
and participant limit (claim ``pol``): the edge enforces them too, with the newest it knows
(changes reach edges as ``policy`` commands: :meth:`CommandService.push_policy`).
"""

from __future__ import annotations

import logging
import re
import secrets

import aiosqlite
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ServiceUnavailableException

from ..accounts.passwords import verify_password_async
from ..auth.principal import Principal
from ..auth.ratelimit import StoredGuessLimiter
from ..errors import FieldError
from ..events import repository as roster
from ..placement.regions import RegionMap
from ..placement.service import NoEdgeError, PlacementService, PlacementUnavailable
from ..tokens.permissions import derive
from ..tokens.service import TokenService
from .schemas import AlternateEdge, JoinRead, JoinRequest
from .service import MeetingService, entry_policy

log = logging.getLogger(__name__)

REGION_HEADER = "X-CC-Region"
_REGION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class JoinService:
    def __init__(self, meetings: MeetingService, tokens: TokenService, placement: PlacementService,
                 regions: RegionMap, guesses: StoredGuessLimiter | None = None) -> None:
        self.meetings = meetings
        self.tokens = tokens
        self.placement = placement
        self.regions = regions
        self.guesses = guesses or StoredGuessLimiter(meetings.db)

    async def meeting_role(self, principal: Principal, row: aiosqlite.Row) -> str:
        if await self.meetings.can_manage(principal, row):
            return "host"
        if principal.role == "guest":
            return "guest"
        if await self.meetings.repo.is_moderator(row["id"], principal.account_id):
            return "moderator"
        return "member"

    async def join(self, principal: Principal | None, meeting_id: str, data: JoinRequest,
                   client_addr: str | None, region_header: str | None = None) -> JoinRead:
        if region_header is not None and not _REGION.match(region_header):
            raise FieldError(REGION_HEADER, "must be a region name: 1 to 64 letters, digits, '-' or '_'")
        row = await self.meetings.row(meeting_id)
        if row["parent_id"]:
            raise FieldError("meeting_id", "is a breakout room: its participants are sent there from its main"
                                           " meeting", status_code=409)
        if not row["allow_guests"]:
            if principal is None:
                raise NotAuthorizedException("sign in to join: this meeting does not allow guests")
            if principal.role == "guest":
                raise PermissionDeniedException("this meeting does not allow guests (your account is a guest account)")
        if principal is None:
            name = (data.display_name or "").strip()
            if not name:
                raise FieldError("display_name", "a guest must give a name to join")
            account_role, sub, meeting_role = "guest", f"guest:{secrets.token_urlsafe(12)}", "guest"
        else:
            account_role, sub, name = principal.role, principal.account_id, principal.display_name
            meeting_role = await self.meeting_role(principal, row)

        if row["state"] == "ended":
            raise FieldError("state", "the meeting has ended; its owner or a co-host may restart it", status_code=409)
        if row["locked"] and meeting_role not in ("host", "moderator"):
            raise PermissionDeniedException("the meeting is locked: only its hosts and moderators may join")
        if row["password_hash"] is not None and meeting_role != "host":
            if not data.password:
                raise FieldError("password", "this meeting needs a password", status_code=403)
            await self.guesses.check(meeting_id, client_addr)
            if not await verify_password_async(row["password_hash"], data.password):
                await self.guesses.failed(meeting_id, client_addr)
                raise FieldError("password", "is wrong", status_code=403)
            await self.guesses.succeeded(meeting_id, client_addr)
        count = await roster.count_in(self.meetings.db, meeting_id)
        if count >= row["max_participants"]:
            raise FieldError("max_participants", f"the meeting is full ({count} of {row['max_participants']})",
                             status_code=409)

        region = self.regions.region_for(data.region, client_addr, region_header)
        return await self.issue(row, account_role=account_role, sub=sub, name=name, meeting_role=meeting_role,
                                region=region, lobby=bool(row["lobby"]) and meeting_role == "guest")

    async def issue(self, row: aiosqlite.Row, *, account_role: str, sub: str, name: str, meeting_role: str,
                    region: str, lobby: bool = False) -> JoinRead:
        """Place *row*'s meeting for a participant of *region* and sign its join token: the end of
        every join, and the tokens the control plane hands out itself (breakout rooms)."""
        meeting_id = row["id"]
        try:
            placed = await self.placement.place(meeting_id, region)
        except NoEdgeError:
            raise ServiceUnavailableException("no live edge can host this meeting; try again shortly") from None
        except PlacementUnavailable as exc:
            raise ServiceUnavailableException(f"placement is unavailable: {exc}") from None

        perms = derive(account_role=account_role, meeting_role=meeting_role, publish_policy=row["publish_policy"])
        hb = placed.edge.heartbeat
        issued = self.tokens.issue(account_role=account_role, sub=sub, name=name, meeting_id=meeting_id,
                                   edge_id=hb.edge_id, role=meeting_role, perms=perms, alt=placed.alt,
                                   epoch=placed.placement.epoch, lobby=lobby, policy=entry_policy(row))
        log.info("join token issued", extra={"meeting_id": meeting_id, "sub": sub, "edge_id": hb.edge_id,
                                             "region": region, "role": meeting_role, "epoch": placed.placement.epoch})
        return JoinRead(token=issued.token, edge_url=hb.public_url, edge_id=hb.edge_id,
                        expires_at=issued.claims.exp, meeting_id=meeting_id, role=meeting_role,
                        permissions={k: getattr(perms, k) for k in perms.__struct_fields__}, lobby=lobby,
                        epoch=placed.placement.epoch, alt=placed.alt, region=region, e2ee=bool(row["e2ee"]),
                        alternates=[AlternateEdge(edge_id=e.heartbeat.edge_id, url=e.heartbeat.public_url)
                                    for e in placed.alternates])
