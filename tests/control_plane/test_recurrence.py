"""Schedules and recurring series: validation, occurrence expansion, RRULE text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from control_plane.errors import FieldError
from control_plane.meetings.recurrence import occurrences, rrule, series_end, validate
from control_plane.meetings.schemas import Recurrence, ScheduleIn


def sched(start: str, end: str, tz: str = "Europe/Berlin", **rec) -> ScheduleIn:  # noqa: ANN003
    return ScheduleIn(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end), time_zone=tz,
                      recurrence=Recurrence(**rec) if rec else None)


def starts(schedule: ScheduleIn, **kw) -> list[str]:  # noqa: ANN003
    return [o.start.isoformat() for o in occurrences(validate(schedule), **kw)]


def refused(schedule: ScheduleIn) -> tuple[str, str]:
    with pytest.raises(FieldError) as err:
        validate(schedule)
    extra = err.value.extra[0]
    return extra["key"], extra["message"]


def test_single_meeting_has_one_occurrence() -> None:
    s = validate(sched("2030-03-11T09:00", "2030-03-11T10:30"))
    [only] = occurrences(s)
    assert only.start_utc == datetime(2030, 3, 11, 8, 0, tzinfo=UTC)
    assert only.end_utc - only.start_utc == timedelta(minutes=90)
    assert series_end(s) == only.end_utc and rrule(s) is None


def test_daily_keeps_local_time_across_daylight_saving() -> None:
    # Berlin switches to summer time on 2030-03-31 at 02:00.
    s = validate(sched("2030-03-29T09:00", "2030-03-29T10:00", freq="daily", count=4))
    occ = occurrences(s)
    assert [o.start.isoformat() for o in occ] == ["2030-03-29T09:00:00", "2030-03-30T09:00:00",
                                                  "2030-03-31T09:00:00", "2030-04-01T09:00:00"]
    assert [o.start_utc.hour for o in occ] == [8, 8, 7, 7]
    assert all(o.end_utc - o.start_utc == timedelta(hours=1) for o in occ)
    assert rrule(s) == "FREQ=DAILY;COUNT=4"


def test_weekly_on_weekdays_every_other_week() -> None:
    s = sched("2030-03-11T09:00", "2030-03-11T09:30", freq="weekly", interval=2, weekdays=["WE", "MO"], count=5)
    assert starts(s) == ["2030-03-11T09:00:00", "2030-03-13T09:00:00", "2030-03-25T09:00:00",
                         "2030-03-27T09:00:00", "2030-04-08T09:00:00"]
    assert rrule(validate(s)) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=5"


def test_weekly_without_weekdays_repeats_on_the_start_day() -> None:
    s = sched("2030-03-13T09:00", "2030-03-13T09:30", freq="weekly", count=3)
    assert starts(s) == ["2030-03-13T09:00:00", "2030-03-20T09:00:00", "2030-03-27T09:00:00"]
    assert rrule(validate(s)) == "FREQ=WEEKLY;BYDAY=WE;COUNT=3"


def test_monthly_skips_months_without_the_day() -> None:
    s = sched("2030-01-31T18:00", "2030-01-31T19:00", freq="monthly", count=4)
    assert starts(s) == ["2030-01-31T18:00:00", "2030-03-31T18:00:00", "2030-05-31T18:00:00",
                         "2030-07-31T18:00:00"]


def test_until_is_an_inclusive_local_date_and_written_in_utc() -> None:
    s = sched("2030-03-11T23:30", "2030-03-11T23:45", freq="daily", until=date(2030, 3, 13))
    assert starts(s) == ["2030-03-11T23:30:00", "2030-03-12T23:30:00", "2030-03-13T23:30:00"]
    v = validate(s)
    assert rrule(v) == "FREQ=DAILY;UNTIL=20300313T225959Z"  # 23:59:59 in Berlin (UTC+1)
    assert series_end(v) == datetime(2030, 3, 13, 22, 45, tzinfo=UTC)


def test_an_endless_series_is_expanded_up_to_a_limit() -> None:
    s = validate(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily"))
    assert series_end(s) is None
    assert len(occurrences(s, limit=50)) == 50
    later = occurrences(s, after=datetime(2031, 1, 1, tzinfo=UTC), limit=1)
    assert later[0].start.isoformat() == "2031-01-01T09:00:00"


def test_after_skips_finished_occurrences() -> None:
    s = sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily", count=5)
    # The 13th's occurrence is still running at 09:30 local, so it is included.
    assert starts(s, after=datetime(2030, 3, 13, 8, 30, tzinfo=UTC)) == [
        "2030-03-13T09:00:00", "2030-03-14T09:00:00", "2030-03-15T09:00:00"]


def test_times_with_an_offset_are_converted_into_the_zone() -> None:
    s = validate(ScheduleIn(start=datetime(2030, 3, 11, 8, 0, tzinfo=UTC),
                            end=datetime(2030, 3, 11, 12, 0, tzinfo=timezone(timedelta(hours=3))),
                            time_zone="Europe/Berlin"))
    assert s.start == datetime(2030, 3, 11, 9, 0) and s.end == datetime(2030, 3, 11, 10, 0)


def test_a_time_skipped_by_daylight_saving_moves_forward() -> None:
    # Berlin skips 02:00-03:00 on 2030-03-31: 02:30 is read as 03:30 summer time (RFC 5545 3.3.5).
    s = validate(sched("2030-03-31T02:30", "2030-03-31T04:00", tz="Europe/Berlin"))
    [o] = occurrences(s)
    assert o.start_utc == datetime(2030, 3, 31, 1, 30, tzinfo=UTC)
    assert o.end_utc == datetime(2030, 3, 31, 2, 0, tzinfo=UTC)
    assert refused(sched("2030-03-31T02:30", "2030-03-31T03:30")) == (
        "schedule.end", "must be after the start (daylight saving skips the time between)")


def test_bad_schedules_are_refused_naming_the_field() -> None:
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", tz="Mars/Olympus")) == (
        "schedule.time_zone", "unknown time zone 'Mars/Olympus' (use an IANA name such as 'Europe/Berlin')")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", tz="../../etc/passwd"))[0] == "schedule.time_zone"
    assert refused(sched("2030-03-11T09:00", "2030-03-11T09:00")) == ("schedule.end", "must be after the start")
    assert refused(sched("2030-03-11T09:00", "2030-03-12T09:01")) == ("schedule.end",
                                                                      "a meeting lasts at most 24 hours")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily", count=3,
                         until=date(2030, 4, 1))) == ("schedule.recurrence.until", "give count or until, not both")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily", weekdays=["MO"])) == (
        "schedule.recurrence.weekdays", "only a weekly series repeats on weekdays")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="weekly", weekdays=["TU"])) == (
        "schedule.recurrence.weekdays", "must include the start's weekday (MO)")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily", until=date(2030, 3, 10))) == (
        "schedule.recurrence.until", "is before the start")
    assert refused(sched("2030-03-11T09:00", "2030-03-11T10:00", freq="daily", until=date(2060, 1, 1))) == (
        "schedule.recurrence.until", "is more than 20 years after the start")
