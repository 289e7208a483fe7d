"""Schedules: wall-clock times in an IANA time zone, and recurring series.

A schedule's ``start`` and ``end`` are local times in ``time_zone`` (an offset given with them is
converted into the zone). A series repeats ``daily``, ``weekly`` (on ``weekdays``; the start's
weekday must be one of them) or ``monthly`` (on the start's day of the month; months without that
day are skipped, as RFC 5545 does), every ``interval`` periods, ending after ``count``
occurrences, on ``until`` (a local date, inclusive), or never. Occurrences keep the local start
time across daylight-saving changes and last exactly as long as the first one.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import FieldError
from .schemas import Recurrence, ScheduleIn

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_DURATION = timedelta(hours=24)
MAX_SERIES_YEARS = 20
#: Candidate dates examined at most while expanding (a guard, far above any real series).
MAX_SCAN = 200_000


@dataclass(frozen=True)
class Rule:
    freq: str
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    count: int | None = None
    until: date | None = None


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: naive local times in :attr:`zone`."""

    start: datetime
    end: datetime
    time_zone: str
    rule: Rule | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    @property
    def duration(self) -> timedelta:
        return self.utc(self.end) - self.utc(self.start)


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # local, naive
    end: datetime
    start_utc: datetime
    end_utc: datetime


def zone(name: str, field: str = "schedule.time_zone") -> ZoneInfo:
    try:
        if not name or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FieldError(field, f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')") from None


def _local(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(tz).replace(tzinfo=None)
    return value.replace(microsecond=0)


def validate(data: ScheduleIn) -> Schedule:
    """Check *data* and return it as a :class:`Schedule`; raise :class:`FieldError` naming the field."""
    tz = zone(data.time_zone)
    start, end = _local(data.start, tz), _local(data.end, tz)
    if end <= start:
        raise FieldError("schedule.end", "must be after the start")
    if end - start > MAX_DURATION:
        raise FieldError("schedule.end", "a meeting lasts at most 24 hours")
    rule = _rule(data.recurrence, start) if data.recurrence is not None else None
    schedule = Schedule(start=start, end=end, time_zone=data.time_zone, rule=rule)
    if schedule.duration <= timedelta(0):
        raise FieldError("schedule.end", "must be after the start (daylight saving skips the time between)")
    return schedule


def _rule(r: Recurrence, start: datetime) -> Rule:
    field = "schedule.recurrence"
    if r.count is not None and r.until is not None:
        raise FieldError(f"{field}.until", "give count or until, not both")
    weekdays: tuple[int, ...] = ()
    if r.weekdays:
        if r.freq != "weekly":
            raise FieldError(f"{field}.weekdays", "only a weekly series repeats on weekdays")
        weekdays = tuple(sorted({WEEKDAYS.index(d) for d in r.weekdays}))
        if start.weekday() not in weekdays:
            raise FieldError(f"{field}.weekdays",
                             f"must include the start's weekday ({WEEKDAYS[start.weekday()]})")
    elif r.freq == "weekly":
        weekdays = (start.weekday(),)
    if r.until is not None:
        if r.until < start.date():
            raise FieldError(f"{field}.until", "is before the start")
        if r.until.year - start.year > MAX_SERIES_YEARS:
            raise FieldError(f"{field}.until", f"is more than {MAX_SERIES_YEARS} years after the start")
    return Rule(freq=r.freq, interval=r.interval, weekdays=weekdays, count=r.count, until=r.until)


def to_recurrence(rule: Rule) -> Recurrence:
    weekdays = [WEEKDAYS[d] for d in rule.weekdays] if rule.freq == "weekly" else []
    return Recurrence(freq=rule.freq, interval=rule.interval, weekdays=weekdays,  # type: ignore[arg-type]
                      count=rule.count, until=rule.until)


def _candidates(start: datetime, rule: Rule) -> Iterator[datetime]:
    step = rule.interval
    try:
        if rule.freq == "daily":
            for k in itertools.count():
                yield start + timedelta(days=k * step)
        elif rule.freq == "weekly":
            week0 = start.date() - timedelta(days=start.weekday())
            for w in itertools.count():
                base = week0 + timedelta(weeks=w * step)
                for wd in rule.weekdays:
                    d = base + timedelta(days=wd)
                    if d >= start.date():
                        yield datetime.combine(d, start.time())
        else:
            for m in itertools.count():
                months = start.month - 1 + m * step
                year, month = start.year + months // 12, months % 12 + 1
                if year > 9999:
                    return
                if start.day <= calendar.monthrange(year, month)[1]:
                    yield start.replace(year=year, month=month)
    except OverflowError:
        return


def local_starts(schedule: Schedule) -> Iterator[datetime]:
    """Local start times of every occurrence, in order (endless for an open series)."""
    rule = schedule.rule
    if rule is None:
        yield schedule.start
        return
    n = 0
    for scanned, dt in enumerate(_candidates(schedule.start, rule)):
        if scanned >= MAX_SCAN or (rule.until is not None and dt.date() > rule.until):
            return
        yield dt
        n += 1
        if rule.count is not None and n >= rule.count:
            return


def occurrences(schedule: Schedule, *, after: datetime | None = None, limit: int = 100) -> list[Occurrence]:
    """Up to *limit* occurrences, skipping those that ended at or before *after* (aware)."""
    out: list[Occurrence] = []
    duration = schedule.duration
    for local in local_starts(schedule):
        start_utc = schedule.utc(local)
        end_utc = start_utc + duration
        if after is not None and end_utc <= after:
            continue
        out.append(Occurrence(start=local, end=end_utc.astimezone(schedule.zone).replace(tzinfo=None),
                              start_utc=start_utc, end_utc=end_utc))
        if len(out) >= limit:
            break
    return out


def series_end(schedule: Schedule) -> datetime | None:
    """When the last occurrence ends (UTC), or None for an endless series."""
    rule = schedule.rule
    if rule is not None and rule.count is None and rule.until is None:
        return None
    last = None
    for last in local_starts(schedule):  # noqa: B007 - bounded by count or until
        pass
    assert last is not None
    return schedule.utc(last) + schedule.duration


def rrule(schedule: Schedule) -> str | None:
    """The RFC 5545 ``RRULE`` value of the series (``UNTIL`` in UTC, as the RFC requires with TZID)."""
    rule = schedule.rule
    if rule is None:
        return None
    parts = [f"FREQ={rule.freq.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.freq == "weekly":
        parts.append("BYDAY=" + ",".join(WEEKDAYS[d] for d in rule.weekdays))
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.until is not None:
        last = datetime.combine(rule.until, time(23, 59, 59)).replace(tzinfo=schedule.zone).astimezone(UTC)
        parts.append("UNTIL=" + last.strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)
