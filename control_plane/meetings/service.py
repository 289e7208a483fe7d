"""Meeting rules: who may create, read, change and delete a meeting, and its lifecycle.

Only host and admin accounts create meetings. A meeting's owner, its co-hosts and admins manage
it (edit, delete, moderate, restart). Anyone signed in may read a meeting they have the link to;
without a session only when the meeting allows guests. Lifecycle: ``scheduled`` → ``live`` (the
first participant joined, from the edges' events) → ``ended`` (ended for all, or empty for
``meetings.empty_timeout``); an ended meeting is joined again only after a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import msgspec
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException

from nodes.subjects import TOKEN_RE
from nodes.wire import MeetingPolicy

from ..accounts.passwords import hash_password_async
from ..auth.principal import Principal, require_role
from ..db import Database
from ..errors import FieldError
from ..events.repository import close_roster
from ..settings import MeetingSettings
from ..tokens.permissions import CEILING
from . import e2ee, ics, recurrence
from .repository import MeetingRepository
from .schemas import (
    AccountRef,
    MeetingCreate,
    MeetingRead,
    MeetingUpdate,
    OccurrenceRead,
    Recurrence,
    ScheduleIn,
    ScheduleRead,
)

log = logging.getLogger(__name__)

_recurrence_decoder = msgspec.json.Decoder(Recurrence)
SCOPES = ("mine", "upcoming", "live")


def _may_auto_record(principal: Principal, on: bool) -> bool:
    """*on*, if *principal* may record meetings (the record grant); else 403 naming the field."""
    if on and "record" not in CEILING.get(principal.role, frozenset()):
        raise FieldError("auto_record", f"a {principal.role} account may not record meetings (no record grant)",
                         status_code=403)
    return on


def iso_utc(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_text(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def entry_policy(row: aiosqlite.Row) -> MeetingPolicy:
    """The meeting's lock and participant limit for the edges (in join tokens and ``policy``
    commands); its version is the row's last change, in milliseconds."""
    try:
        changed = datetime.strptime(row["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        version = int(changed.timestamp() * 1000)
    except (TypeError, ValueError):
        version = 0
    return MeetingPolicy(locked=bool(row["locked"]), max_participants=int(row["max_participants"]), version=version)


def schedule_of(row: aiosqlite.Row) -> recurrence.Schedule | None:
    if row["start_local"] is None:
        return None
    rec = _recurrence_decoder.decode(row["recurrence"]) if row["recurrence"] else None
    return recurrence.validate(ScheduleIn(start=datetime.fromisoformat(row["start_local"]),
                                          end=datetime.fromisoformat(row["end_local"]),
                                          time_zone=row["time_zone"], recurrence=rec))


def _schedule_columns(schedule: recurrence.Schedule | None) -> dict[str, Any]:
    if schedule is None:
        return dict.fromkeys(("time_zone", "start_local", "end_local", "start_utc", "end_utc", "recurrence",
                              "series_end_utc"))
    rule = schedule.rule
    return {"time_zone": schedule.time_zone, "start_local": schedule.start.isoformat(),
            "end_local": schedule.end.isoformat(), "start_utc": _utc_text(schedule.utc(schedule.start)),
            "end_utc": _utc_text(schedule.utc(schedule.end)),
            "recurrence": msgspec.json.encode(recurrence.to_recurrence(rule)).decode() if rule else None,
            "series_end_utc": _utc_text(recurrence.series_end(schedule))}


class MeetingService:
    def __init__(self, db: Database, settings: MeetingSettings, *, public_url: str) -> None:
        self.db = db
        self.repo = MeetingRepository(db)
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        #: ``await listener(meeting_id, at=, reason=)`` after :meth:`mark_ended` (e.g. a webhook).
        self.ended_listeners: list[Callable[..., Awaitable[None]]] = []

    # -- access ----------------------------------------------------------------------------------
    async def row(self, meeting_id: str) -> aiosqlite.Row:
        row = await self.repo.get(meeting_id) if TOKEN_RE.match(meeting_id) else None
        if row is None:
            raise NotFoundException("no such meeting")
        return row

    async def can_manage(self, principal: Principal | None, row: aiosqlite.Row) -> bool:
        if principal is None:
            return False
        if principal.role == "admin" or row["owner_id"] == principal.account_id:
            return True
        return await self.repo.is_cohost(row["id"], principal.account_id)

    async def managed_row(self, principal: Principal, meeting_id: str, action: str) -> aiosqlite.Row:
        row = await self.row(meeting_id)
        if not await self.can_manage(principal, row):
            raise PermissionDeniedException(f"only the meeting's owner, its co-hosts and admins may {action}")
        return row

    async def readable_row(self, principal: Principal | None, meeting_id: str) -> aiosqlite.Row:
        row = await self.row(meeting_id)
        if principal is None and not row["allow_guests"]:
            raise NotAuthorizedException("sign in to see this meeting")
        return row

    # -- reading ---------------------------------------------------------------------------------
    def url(self, meeting_id: str) -> str:
        return f"{self.public_url}/meetings/{meeting_id}"

    async def to_read(self, row: aiosqlite.Row, principal: Principal | None, *,
                      now: datetime | None = None) -> MeetingRead:
        manage = await self.can_manage(principal, row)
        schedule = schedule_of(row)
        sched_read = nxt = None
        if schedule is not None:
            rule = schedule.rule
            sched_read = ScheduleRead(start=schedule.start, end=schedule.end, time_zone=schedule.time_zone,
                                      recurrence=recurrence.to_recurrence(rule) if rule else None,
                                      rrule=recurrence.rrule(schedule))
            upcoming = recurrence.occurrences(schedule, after=now or datetime.now(UTC), limit=1)
            if upcoming:
                o = upcoming[0]
                nxt = OccurrenceRead(start=o.start, end=o.end, start_utc=o.start_utc, end_utc=o.end_utc)
        owner = cohosts = None
        if principal is not None:
            o_row = await self.repo.account(row["owner_id"])
            owner = AccountRef(id=o_row["id"], username=o_row["username"], display_name=o_row["display_name"])
            cohosts = [AccountRef(id=c["id"], username=c["username"], display_name=c["display_name"])
                       for c in await self.repo.cohosts(row["id"])]
        return MeetingRead(
            id=row["id"], title=row["title"], description=row["description"], schedule=sched_read,
            next_occurrence=nxt, state=row["state"], started_at=iso_utc(row["started_at"]),
            ended_at=iso_utc(row["ended_at"]), has_password=row["password_hash"] is not None,
            lobby=bool(row["lobby"]), allow_guests=bool(row["allow_guests"]),
            max_participants=row["max_participants"], publish_policy=row["publish_policy"],
            locked=bool(row["locked"]), recording_since=iso_utc(row["recording_since"]),
            auto_record=bool(row["auto_record"]), e2ee=bool(row["e2ee"]),
            can_manage=manage, owner=owner, cohosts=cohosts or [],
            url=self.url(row["id"]), created_at=row["created_at"], updated_at=row["updated_at"],
            parent_id=row["parent_id"])

    async def read(self, principal: Principal | None, meeting_id: str) -> MeetingRead:
        return await self.to_read(await self.readable_row(principal, meeting_id), principal)

    async def list_meetings(self, principal: Principal, scope: str) -> list[MeetingRead]:
        if scope not in SCOPES:
            raise FieldError("scope", f"must be one of {', '.join(SCOPES)}")
        now = datetime.now(UTC)
        if scope == "live":
            rows = (await self.repo.list_in_state("live") if principal.role == "admin"
                    else await self.repo.list_for(principal.account_id, state="live"))
            return [await self.to_read(r, principal, now=now) for r in rows]
        rows = await self.repo.list_for(principal.account_id)
        reads = [await self.to_read(r, principal, now=now) for r in rows]
        if scope == "mine":
            return reads
        never = datetime.max.replace(tzinfo=UTC)
        upcoming = [m for m, r in zip(reads, rows, strict=True) if m.state != "ended"
                    and (r["start_local"] is None or m.next_occurrence is not None)]
        return sorted(upcoming, key=lambda m: m.next_occurrence.start_utc if m.next_occurrence else never)

    async def occurrences(self, principal: Principal | None, meeting_id: str, *, after: datetime | None,
                          limit: int) -> list[OccurrenceRead]:
        row = await self.readable_row(principal, meeting_id)
        schedule = schedule_of(row)
        if schedule is None:
            return []
        return [OccurrenceRead(start=o.start, end=o.end, start_utc=o.start_utc, end_utc=o.end_utc)
                for o in recurrence.occurrences(schedule, after=after, limit=limit)]

    async def ics(self, principal: Principal | None, meeting_id: str) -> tuple[str, str]:
        """(file name, calendar text) for the meeting or its series."""
        row = await self.readable_row(principal, meeting_id)
        schedule = schedule_of(row)
        if schedule is None:
            raise FieldError("schedule", "the meeting has no schedule to put in a calendar", status_code=409)
        text = ics.calendar(meeting_id=row["id"], title=row["title"], description=row["description"],
                            schedule=schedule, url=self.url(row["id"]), sequence=row["sequence"])
        return f"meeting-{row['id']}.ics", text

    # -- writing ---------------------------------------------------------------------------------
    async def _cohost_ids(self, usernames: list[str], owner_id: str) -> list[str]:
        found = await self.repo.accounts_by_username(usernames)
        ids: list[str] = []
        for name in usernames:
            acc = found.get(name.lower())
            if acc is None:
                raise FieldError("cohosts", f"no account named {name!r}")
            if acc["disabled"]:
                raise FieldError("cohosts", f"account {name!r} is disabled")
            if acc["id"] != owner_id and acc["id"] not in ids:
                ids.append(acc["id"])
        return ids

    def _max_participants(self, value: int | None) -> int:
        limit = self.settings.max_participants_limit
        if value is None:
            return min(self.settings.default_max_participants, limit)
        if value > limit:
            raise FieldError("max_participants", f"must be at most {limit} on this server")
        return value

    async def create(self, principal: Principal, data: MeetingCreate) -> MeetingRead:
        require_role(principal, "host", "create meetings")
        schedule = recurrence.validate(data.schedule) if data.schedule is not None else None
        fields: dict[str, Any] = {
            "owner_id": principal.account_id, "title": data.title.strip() or data.title,
            "description": data.description, **_schedule_columns(schedule),
            "password_hash": await hash_password_async(data.password) if data.password else None,
            "lobby": int(data.lobby), "allow_guests": int(data.allow_guests),
            "max_participants": self._max_participants(data.max_participants),
            "publish_policy": data.publish_policy, "locked": int(data.locked),
            "auto_record": int(_may_auto_record(principal, data.auto_record)), "e2ee": int(data.e2ee)}
        e2ee.check_settings(e2ee=data.e2ee, auto_record=data.auto_record, changed=set())
        cohosts = await self._cohost_ids(data.cohosts, principal.account_id)
        async with self.db.transaction() as conn:
            meeting_id = await self.repo.insert(conn, fields)
            await self.repo.set_cohosts(conn, meeting_id, cohosts)
        log.info("meeting created", extra={"meeting_id": meeting_id, "owner_id": principal.account_id})
        return await self.to_read(await self.row(meeting_id), principal)

    async def update(self, principal: Principal, meeting_id: str, data: MeetingUpdate) -> MeetingRead:
        row = await self.managed_row(principal, meeting_id, "change it")
        fields: dict[str, Any] = {}
        for name in ("title", "description", "publish_policy"):
            value = getattr(data, name)
            if value is not msgspec.UNSET:
                fields[name] = value
        for name in ("lobby", "allow_guests", "locked"):
            value = getattr(data, name)
            if value is not msgspec.UNSET:
                fields[name] = int(value)
        if data.auto_record is not msgspec.UNSET:
            fields["auto_record"] = int(_may_auto_record(principal, data.auto_record))
        if data.e2ee is not msgspec.UNSET:
            e2ee.check_change(row, data.e2ee)
            fields["e2ee"] = int(data.e2ee)
        e2ee.check_settings(e2ee=bool(fields.get("e2ee", row["e2ee"])),
                            auto_record=bool(fields.get("auto_record", row["auto_record"])),
                            changed={k for k in ("e2ee", "auto_record") if k in fields})
        if data.max_participants is not msgspec.UNSET:
            fields["max_participants"] = self._max_participants(data.max_participants)
        if data.schedule is not msgspec.UNSET:
            schedule = recurrence.validate(data.schedule) if data.schedule is not None else None
            fields.update(_schedule_columns(schedule), sequence=row["sequence"] + 1)
        if data.password is not msgspec.UNSET:
            fields["password_hash"] = await hash_password_async(data.password) if data.password else None
        cohosts = (await self._cohost_ids(data.cohosts, row["owner_id"])
                   if data.cohosts is not msgspec.UNSET else None)
        async with self.db.transaction() as conn:
            await self.repo.update(conn, meeting_id, fields)
            if cohosts is not None:
                await self.repo.set_cohosts(conn, meeting_id, cohosts)
        return await self.to_read(await self.row(meeting_id), principal)

    async def delete(self, principal: Principal, meeting_id: str) -> None:
        await self.managed_row(principal, meeting_id, "delete it")
        async with self.db.transaction() as conn:
            await self.repo.delete(conn, meeting_id)
        log.info("meeting deleted", extra={"meeting_id": meeting_id, "by": principal.account_id})

    # -- lifecycle -------------------------------------------------------------------------------
    async def mark_ended(self, meeting_id: str, *, reason: str, at: float | None = None) -> None:
        at = at if at is not None else time.time()
        async with self.db.transaction() as conn:
            await self.repo.set_state(conn, meeting_id, "ended", at)
            await close_roster(conn, meeting_id, at, reason)
        log.info("meeting ended", extra={"meeting_id": meeting_id, "reason": reason})
        for listener in list(self.ended_listeners):
            try:
                await listener(meeting_id, at=at, reason=reason)
            except Exception as exc:  # noqa: BLE001 - the meeting has ended either way
                log.warning("meeting ended listener failed", extra={"meeting_id": meeting_id, "error": repr(exc)})

    async def restart(self, principal: Principal, meeting_id: str) -> MeetingRead:
        row = await self.managed_row(principal, meeting_id, "restart it")
        if row["state"] != "ended":
            raise FieldError("state", f"the meeting is {row['state']}, not ended", status_code=409)
        async with self.db.transaction() as conn:
            await self.repo.set_state(conn, meeting_id, "scheduled", time.time())
        return await self.to_read(await self.row(meeting_id), principal)
