"""Breakout rooms: a live meeting's moderator splits it into rooms for a while, then brings
everyone back (``docs/web.md``, Breakout rooms; the API in ``docs/operations.md``).

Each room is a meeting of its own, a child of the main meeting (``meetings.parent_id``), with the
main meeting's owner and settings; nobody joins it through the join call (only as sent here). The
control plane decides everything and tells the edges with one command per meeting
(:class:`nodes.wire.Breakout`, carried out by :mod:`edge.conference.breakouts`):

* **open** — the main meeting's edges tell each assigned participant to go to its room, with a
  join answer the control plane signed for it (:mod:`.people`); with ``allow_choose`` everyone
  else (but whoever opened the rooms) gets the list of rooms to pick from. Each participant also
  gets a ticket: it asks :meth:`BreakoutService.choose` for a token into a room of the set, with
  or without a session (guests have none);
* **broadcast** — a :class:`nodes.wire.Notice` to the main meeting and every room;
* **close** — by a moderator, at the timer's end (:mod:`.timer`) or when the main meeting ends:
  each room's edges tell everyone in it to come back, with a fresh token for the main meeting;
  the rooms end a little later (:meth:`BreakoutService.end_rooms`), whoever stayed is then told
  the room ended.

Who may: the meeting's owner, its co-hosts and admins, as for every moderator action of the API.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable

import msgspec
from litestar.exceptions import NotFoundException

from nodes import wire

from .. import audit
from ..auth.principal import Principal
from ..db import Database, Row
from ..errors import FieldError
from ..events import repository as roster
from ..meetings.commands import CommandService, NoEdge
from ..meetings.service import MeetingService
from . import repository as repo
from .people import People, Person
from .schemas import BreakoutCreate, BreakoutRead, BroadcastRead, ChooseBody, ChooseRead, PersonRead, RoomRead

log = logging.getLogger(__name__)

#: Moves per command (each carries a signed token of about 1 kB: well under NATS's payload limit).
MOVES_PER_COMMAND = 100
#: The settings a room takes from its main meeting.
INHERITED = ("allow_guests", "max_participants", "publish_policy", "e2ee")


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _unprocessable(field: str, message: str) -> FieldError:
    return FieldError(field, message, status_code=422)


class BreakoutService:
    def __init__(self, db: Database, meetings: MeetingService, commands: CommandService, people: People, *,
                 room_grace: float = 30.0) -> None:
        self.db, self.meetings, self.commands, self.people = db, meetings, commands, people
        #: Seconds the rooms of a closed set stay before they are ended (time to come back).
        self.room_grace = room_grace
        #: Wakes the timer (:mod:`.timer`) when a set opens or closes.
        self.wake: Callable[[], None] = lambda: None

    # -- opening -------------------------------------------------------------------------------
    async def create(self, principal: Principal, meeting_id: str, data: BreakoutCreate) -> BreakoutRead:
        main = await self.meetings.managed_row(principal, meeting_id, "open breakout rooms")
        if main["parent_id"]:
            raise FieldError("meeting_id", "is a breakout room: open rooms from its main meeting", status_code=409)
        if main["state"] != "live":
            raise FieldError("state", f"the meeting is {main['state']}: breakout rooms need people in it",
                             status_code=409)
        if await repo.open_set(self.db, meeting_id) is not None:
            raise FieldError("breakouts", "breakout rooms are open already: bring everyone back first", status_code=409)
        people = await self.people.present(meeting_id)
        names, assigned = _check_rooms(data, people)
        choosers = [p for pid, p in people.items() if pid not in assigned and p.account_id != principal.account_id] \
            if data.allow_choose else []
        if not assigned and not choosers:
            raise _unprocessable("rooms", "nobody to send: assign participants to the rooms, or let them choose"
                                          " (allow_choose) when others are in the meeting")
        at = time.time()
        ends_at = at + data.duration_s if data.duration_s else None
        tickets = {pid: secrets.token_urlsafe(24) for pid in [*assigned, *(p.participant_id for p in choosers)]}
        async with self.db.transaction() as conn:
            set_id = await repo.insert_set(conn, meeting_id, allow_choose=data.allow_choose, by=principal.account_id,
                                           at=at, ends_at=ends_at)
            room_ids = []
            for position, name in enumerate(names):
                fields = {"parent_id": meeting_id, "owner_id": main["owner_id"], "title": name,
                          **{k: main[k] for k in INHERITED}}
                room_ids.append(await self.meetings.repo.insert(conn, fields))
                await repo.insert_room(conn, set_id, room_ids[-1], position, name)
            for pid, ticket in tickets.items():
                p = people[pid]
                await repo.insert_seat(conn, set_id, {
                    "participant_id": pid, "account_id": p.account_id, "display_name": p.name, "role": p.role,
                    "region": p.region, "room_id": room_ids[assigned[pid]] if pid in assigned else None,
                    "ticket_hash": ticket_hash(ticket)})
        rooms = [wire.BreakoutRoom(room_id=r, name=n) for r, n in zip(room_ids, names, strict=True)]
        try:
            moves = await self._opening_moves(meeting_id, rooms, assigned, choosers, people, tickets, ends_at or 0.0)
            await self._send(meeting_id, moves, by=principal.account_id)
        except Exception:
            await self._close(set_id, reason="failed", back=False)
            raise
        await audit.record(self.db, audit.actor_of(principal), "meeting.breakouts_open", target_kind="meeting",
                           target_id=meeting_id, meeting_id=meeting_id,
                           details={"rooms": len(rooms), "assigned": len(assigned), "choosing": len(choosers),
                                    "duration_s": data.duration_s or 0})
        log.info("breakout rooms opened", extra={"meeting_id": meeting_id, "breakout_id": set_id, "rooms": len(rooms)})
        self.wake()
        return await self._read(await repo.latest_set(self.db, meeting_id))

    async def _opening_moves(self, meeting_id: str, rooms: list[wire.BreakoutRoom], assigned: dict[str, int],
                             choosers: list[Person], people: dict[str, Person], tickets: dict[str, str],
                             ends_at: float) -> list[wire.BreakoutMove]:
        roles = await self.people.account_roles(list(people.values()))
        rows = {r.room_id: await self.meetings.row(r.room_id) for r in rooms}
        moves = []
        for pid, index in assigned.items():
            room = rooms[index]
            answer = await self.people.answer(rows[room.room_id], people[pid], roles)
            moves.append(wire.BreakoutMove(participant_id=pid, action="join", room=room,
                                           join=msgspec.to_builtins(answer), ticket=tickets[pid], ends_at=ends_at,
                                           main_meeting_id=meeting_id))
        moves += [wire.BreakoutMove(participant_id=p.participant_id, action="choose", rooms=rooms,
                                    ticket=tickets[p.participant_id], ends_at=ends_at, main_meeting_id=meeting_id)
                  for p in choosers]
        return moves

    async def _send(self, meeting_id: str, moves: list[wire.BreakoutMove], *, by: str = "") -> None:
        for i in range(0, len(moves), MOVES_PER_COMMAND):
            await self.commands.to_meeting(wire.Breakout(meeting_id=meeting_id, by=by,
                                                         moves=moves[i:i + MOVES_PER_COMMAND]))

    # -- choosing (and a fresh token for one's room) ----------------------------------------------
    async def choose(self, meeting_id: str, data: ChooseBody) -> ChooseRead:
        seat = await repo.seat_by_ticket(self.db, ticket_hash(data.ticket))
        if seat is None or seat["meeting_id"] != meeting_id:
            raise FieldError("ticket", "is not a ticket for this meeting's breakout rooms", status_code=403)
        if seat["state"] != "open":
            raise FieldError("state", "the breakout rooms have closed: everyone is back in the main meeting",
                             status_code=409)
        rooms = {r["room_id"]: r["name"] for r in await repo.rooms(self.db, seat["breakout_id"])}
        if data.room_id not in rooms:
            raise _unprocessable("room_id", "is not one of these breakout rooms")
        if seat["room_id"] and seat["room_id"] != data.room_id and not seat["allow_choose"]:
            raise FieldError("room_id", f"you were sent to {rooms[seat['room_id']]!r}: only that room",
                             status_code=403)
        if seat["room_id"] != data.room_id:
            await repo.set_seat_room(self.db, seat["breakout_id"], seat["participant_id"], data.room_id)
        person = Person(participant_id=seat["participant_id"], account_id=seat["account_id"],
                        name=seat["display_name"], role=seat["role"], region=seat["region"])
        answer = await self.people.answer(await self.meetings.row(data.room_id), person,
                                          await self.people.account_roles([person]))
        return ChooseRead(room_id=data.room_id, name=rooms[data.room_id], join=answer, ends_at=seat["ends_at"])

    # -- broadcasting ----------------------------------------------------------------------------
    async def broadcast(self, principal: Principal, meeting_id: str, text: str) -> BroadcastRead:
        await self.meetings.managed_row(principal, meeting_id, "send a message to the breakout rooms")
        text = text.strip()
        if not text:
            raise _unprocessable("text", "cannot be empty")
        found = await repo.open_set(self.db, meeting_id)
        if found is None:
            raise FieldError("breakouts", "no breakout rooms are open", status_code=409)
        reached = empty = 0
        for target in [meeting_id, *(r["room_id"] for r in await repo.rooms(self.db, found["id"]))]:
            try:
                await self.commands.to_meeting(wire.Notice(meeting_id=target, by=principal.account_id, text=text,
                                                           sender_name=principal.display_name))
                reached += 1
            except NoEdge:
                empty += 1
        await audit.record(self.db, audit.actor_of(principal), "meeting.breakouts_broadcast", target_kind="meeting",
                           target_id=meeting_id, meeting_id=meeting_id, details={"text": text[:200]})
        return BroadcastRead(reached=reached, empty=empty)

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, principal: Principal, meeting_id: str, reason: str = "") -> BreakoutRead:
        await self.meetings.managed_row(principal, meeting_id, "close breakout rooms")
        found = await repo.open_set(self.db, meeting_id)
        if found is None or not await self._close(found["id"], reason=reason.strip() or "moderator", back=True):
            raise FieldError("breakouts", "no breakout rooms are open", status_code=409)
        await audit.record(self.db, audit.actor_of(principal), "meeting.breakouts_close", target_kind="meeting",
                           target_id=meeting_id, meeting_id=meeting_id, details={"breakout_id": found["id"]})
        return await self._read(await repo.latest_set(self.db, meeting_id))

    async def close_set(self, found: Row, reason: str) -> bool:
        """Close *found* (the timer, the main meeting's end); False when it was closed already."""
        return await self._close(found["id"], reason=reason, back=reason != "meeting_ended")

    async def _close(self, set_id: str, *, reason: str, back: bool) -> bool:
        """Close the set once: everyone in its rooms is sent back (*back*), or the rooms end now."""
        async with self.db.transaction() as conn:
            if not await repo.close_set(conn, set_id, at=time.time(), reason=reason):
                return False
        main_id = await repo.main_meeting(self.db, set_id)
        rooms = await repo.rooms(self.db, set_id)
        log.info("breakout rooms closed", extra={"meeting_id": main_id, "breakout_id": set_id,
                                                 "reason": reason})
        if not back:
            await self.end_rooms(r["room_id"] for r in rooms)
            return True
        main = await self.meetings.row(main_id)
        for room in rooms:
            await self._send_back(main, room["room_id"])
        stay = [wire.BreakoutMove(participant_id=s["participant_id"], action="return", main_meeting_id=main_id)
                for s in await repo.seats(self.db, set_id)]  # those still in the main meeting stop choosing
        await self._send_quietly(main_id, stay)
        self.wake()
        return True

    async def _send_back(self, main: Row, room_id: str) -> None:
        people = await self.people.present(room_id)
        roles = await self.people.account_roles(list(people.values()))
        moves = []
        for person in people.values():
            try:
                answer = await self.people.answer(main, person, roles)
            except Exception as exc:  # noqa: BLE001 - the others still go back; this one stays until the room ends
                log.warning("no token to come back", extra={"meeting_id": main["id"], "room_id": room_id,
                                                             "error": repr(exc)})
                continue
            moves.append(wire.BreakoutMove(participant_id=person.participant_id, action="return",
                                           join=msgspec.to_builtins(answer), main_meeting_id=main["id"]))
        await self._send_quietly(room_id, moves)

    async def _send_quietly(self, meeting_id: str, moves: list[wire.BreakoutMove]) -> None:
        if not moves:
            return
        try:
            await self._send(meeting_id, moves)
        except NoEdge:
            pass  # nobody is connected there any more
        except Exception as exc:  # noqa: BLE001 - the set is closed either way
            log.warning("breakout moves not confirmed", extra={"meeting_id": meeting_id, "error": repr(exc)})

    async def end_rooms(self, room_ids: Iterable[str]) -> None:
        """End rooms: whoever is still in one is told the meeting ended; the rooms are marked ended."""
        for room_id in room_ids:
            await self.commands.end_quietly(room_id, "the breakout rooms have closed")
            await self.meetings.mark_ended(room_id, reason="breakouts_closed")

    async def meeting_ended(self, meeting_id: str, **_: object) -> None:
        """The main meeting ended: its open rooms end too (a ``MeetingService.ended_listeners`` hook)."""
        found = await repo.open_set(self.db, meeting_id)
        if found is not None:
            await self.close_set(found, "meeting_ended")

    # -- reading ---------------------------------------------------------------------------------
    async def read(self, principal: Principal, meeting_id: str) -> BreakoutRead:
        await self.meetings.managed_row(principal, meeting_id, "see its breakout rooms")
        found = await repo.latest_set(self.db, meeting_id)
        if found is None:
            raise NotFoundException("no breakout rooms were opened in this meeting")
        return await self._read(found)

    async def _read(self, found: Row) -> BreakoutRead:
        seats = await repo.seats(self.db, found["id"])
        rooms = []
        for r in await repo.rooms(self.db, found["id"]):
            present = [PersonRead(participant_id=p["participant_id"], name=p["display_name"])
                       for p in await roster.roster(self.db, r["room_id"]) if not p["lobby"]]
            rooms.append(RoomRead(room_id=r["room_id"], name=r["name"], present=present,
                                  assigned=[PersonRead(participant_id=s["participant_id"], name=s["display_name"])
                                            for s in seats if s["room_id"] == r["room_id"]]))
        choosing = [PersonRead(participant_id=s["participant_id"], name=s["display_name"]) for s in seats
                    if s["room_id"] is None] if found["state"] == "open" else []
        return BreakoutRead(id=found["id"], meeting_id=found["meeting_id"], state=found["state"],
                            allow_choose=bool(found["allow_choose"]), created_at=found["created_at"],
                            ends_at=found["ends_at"], closed_at=found["closed_at"],
                            close_reason=found["close_reason"], rooms=rooms, choosing=choosing)


def _check_rooms(data: BreakoutCreate, people: dict[str, Person]) -> tuple[list[str], dict[str, int]]:
    """The rooms' names and participant id → room index; 422 naming the field for what cannot be."""
    names: list[str] = []
    assigned: dict[str, int] = {}
    for i, room in enumerate(data.rooms):
        name = " ".join(room.name.split()) or f"Room {i + 1}"
        if name in names:
            raise _unprocessable(f"rooms[{i}].name", f"two rooms are called {name!r}")
        names.append(name)
        unknown = [pid for pid in room.participants if pid not in people]
        if unknown:
            raise _unprocessable(f"rooms[{i}].participants",
                                 f"not in the meeting: {', '.join(repr(pid) for pid in unknown)}")
        for pid in room.participants:
            if pid in assigned:
                raise _unprocessable(f"rooms[{i}].participants",
                                     f"{pid!r} is in room {assigned[pid] + 1} already (one room each)")
            assigned[pid] = i
    return names, assigned
