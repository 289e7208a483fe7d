"""Who is sent where, and with which token: the people of a meeting as the control plane knows
them from the edges' events (the roster), and the join answers it signs for them itself.

A participant keeps its identity from room to room: the same subject (its account, or the
``guest:…`` id of a guest), the same name and the same meeting role, with the grants its account
allows (:func:`control_plane.tokens.permissions.derive`). Each token is placed like any join
(:meth:`control_plane.meetings.join.JoinService.issue`): on an edge of the participant's region,
which is the region of the edge it is connected to now.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database, Row
from ..edges.registry import EdgeRegistry
from ..events import repository as roster
from ..meetings.join import JoinService
from ..meetings.schemas import JoinRead
from ..tokens.permissions import MEETING_ROLES
from . import repository as repo


@dataclass(frozen=True)
class Person:
    participant_id: str
    account_id: str
    name: str
    #: The meeting role: host, moderator, member or guest.
    role: str
    region: str


class People:
    def __init__(self, db: Database, joins: JoinService, edges: EdgeRegistry) -> None:
        self.db, self.joins, self.edges = db, joins, edges

    def region_of(self, edge_id: str) -> str:
        live = self.edges.get(edge_id)
        return live.heartbeat.region if live is not None else self.joins.regions.default

    async def present(self, meeting_id: str) -> dict[str, Person]:
        """Everyone in the meeting now (not waiting in its lobby, not lost with their edge), by participant id."""
        return {r["participant_id"]: Person(participant_id=r["participant_id"], account_id=r["account_id"],
                                            name=r["display_name"], role=r["role"], region=self.region_of(r["edge_id"]))
                for r in await roster.roster(self.db, meeting_id) if not r["lobby"] and r["lost_at"] is None}

    async def account_roles(self, people: list[Person]) -> dict[str, str]:
        return await repo.account_roles(self.db, [p.account_id for p in people if not _guest(p.account_id)])

    async def answer(self, row: Row, person: Person, roles: dict[str, str]) -> JoinRead:
        """A join answer for *person* into the meeting of *row* (its token, edge and alternates)."""
        account_role = roles.get(person.account_id, "guest")
        meeting_role = person.role if person.role in MEETING_ROLES else "member"
        if account_role == "guest":
            meeting_role = "guest"
        return await self.joins.issue(row, account_role=account_role, sub=person.account_id, name=person.name,
                                      meeting_role=meeting_role, region=person.region)


def _guest(account_id: str) -> bool:
    return not account_id or account_id.startswith("guest:")
