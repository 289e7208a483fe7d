"""iCalendar files (RFC 5545) for meetings and series: content, escaping, folding, download."""

from __future__ import annotations

from datetime import UTC, datetime

from control_plane.meetings.ics import calendar, escape_text, fold
from control_plane.meetings.recurrence import validate
from control_plane.meetings.schemas import Recurrence, ScheduleIn
from tests.control_plane.meetings_support import create_meeting, user

STAMP = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # only CRLF line ends
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def props(lines: list[str], component: str = "VEVENT") -> dict[str, str]:
    start, end = lines.index(f"BEGIN:{component}"), lines.index(f"END:{component}")
    return {line.split(":", 1)[0]: line.split(":", 1)[1] for line in lines[start + 1:end]}


def schedule(**rec) -> ScheduleIn:  # noqa: ANN003
    return ScheduleIn(start=datetime(2030, 3, 11, 9), end=datetime(2030, 3, 11, 10), time_zone="Europe/Berlin",
                      recurrence=Recurrence(**rec) if rec else None)


def test_folding_keeps_lines_within_75_octets_and_characters_whole() -> None:
    line = "SUMMARY:" + "Größenwahn 🎉 " * 20
    folded = fold(line)
    pieces = folded.split("\r\n")[:-1]
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join([pieces[0]] + [p[1:] for p in pieces[1:]]) == line  # every piece decodes: nothing split
    assert fold("SHORT:x") == "SHORT:x\r\n"


def test_text_is_escaped() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_a_single_meeting() -> None:
    text = calendar(meeting_id="abc", title="Plan; review, v2", description="Line one\nLine two",
                    schedule=validate(schedule()), url="https://meet.example.org/meetings/abc", stamp=STAMP)
    lines = unfold(text)
    assert lines[:5] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Curious Connect//Meetings//EN",
                         "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    assert lines[-1] == "END:VCALENDAR"
    ev = props(lines)
    assert ev["UID"] == "abc@meet.example.org"
    assert ev["DTSTAMP"] == "20300102T030405Z"
    assert ev["DTSTART;TZID=Europe/Berlin"] == "20300311T090000"
    assert ev["DTEND;TZID=Europe/Berlin"] == "20300311T100000"
    assert ev["SUMMARY"] == "Plan\\; review\\, v2"
    assert ev["DESCRIPTION"] == "Line one\\nLine two\\n\\nJoin: https://meet.example.org/meetings/abc"
    assert ev["URL"] == "https://meet.example.org/meetings/abc"
    assert "RRULE" not in ev
    # The time zone is defined in the file: the observance in force on 11 March 2030 is CET (+0100).
    tz = props(lines, "VTIMEZONE")
    assert tz["TZID"] == "Europe/Berlin"
    observances = [(lines[i + 1], lines[i + 3]) for i, line in enumerate(lines) if line in
                   ("BEGIN:STANDARD", "BEGIN:DAYLIGHT")]
    before = [o for o in observances if o[0] <= "DTSTART:20300311T090000"]
    assert before[-1] == ("DTSTART:20291028T030000", "TZOFFSETTO:+0100")
    assert ("DTSTART:20300331T020000", "TZOFFSETTO:+0200") in observances


def test_a_series_has_its_rule() -> None:
    text = calendar(meeting_id="s1", title="Stand-up", description="", schedule=validate(
        schedule(freq="weekly", weekdays=["MO", "WE"], interval=2, count=10)), url="https://h/meetings/s1",
        sequence=3, stamp=STAMP)
    ev = props(unfold(text))
    assert ev["RRULE"] == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10"
    assert ev["SEQUENCE"] == "3"


def test_a_zone_without_daylight_saving() -> None:
    text = calendar(meeting_id="t", title="T", description="", url="https://h/meetings/t", stamp=STAMP,
                    schedule=validate(ScheduleIn(start=datetime(2030, 6, 1, 9), end=datetime(2030, 6, 1, 10),
                                                 time_zone="Asia/Tokyo")))
    lines = unfold(text)
    std = props(lines, "STANDARD")
    assert std == {"DTSTART": "19700101T000000", "TZOFFSETFROM": "+0900", "TZOFFSETTO": "+0900", "TZNAME": "JST"}
    assert "BEGIN:DAYLIGHT" not in lines


async def test_ics_download(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        series = await create_meeting(cp, host, title="Team", schedule={
            "start": "2030-03-11T09:00:00", "end": "2030-03-11T10:00:00", "time_zone": "Europe/Berlin",
            "recurrence": {"freq": "daily", "until": "2030-03-15"}})
        r = await cp.client.get(f"/api/v1/meetings/{series['id']}/ics", headers=host)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/calendar")
        assert f'filename="meeting-{series["id"]}.ics"' in r.headers["content-disposition"]
        ev = props(unfold(r.text))
        assert ev["RRULE"] == "FREQ=DAILY;UNTIL=20300315T225959Z"
        assert ev["URL"] == f"http://testserver.local/meetings/{series['id']}"

        # Changing the schedule raises SEQUENCE, so calendars replace the old event.
        r = await cp.client.patch(f"/api/v1/meetings/{series['id']}", headers=host, json={"schedule": {
            "start": "2030-03-11T10:00:00", "end": "2030-03-11T11:00:00", "time_zone": "Europe/Berlin"}})
        assert r.status_code == 200
        ev = props(unfold((await cp.client.get(f"/api/v1/meetings/{series['id']}/ics", headers=host)).text))
        assert ev["SEQUENCE"] == "1" and ev["DTSTART;TZID=Europe/Berlin"] == "20300311T100000" and "RRULE" not in ev

        adhoc = await create_meeting(cp, host, title="Now")
        r = await cp.client.get(f"/api/v1/meetings/{adhoc['id']}/ics", headers=host)
        assert r.status_code == 409 and r.json()["fields"][0]["field"] == "schedule"
        assert "no schedule" in r.json()["detail"]
        # Without a session, a meeting that does not allow guests is not shown.
        r = await cp.client.get(f"/api/v1/meetings/{series['id']}/ics")  # no credentials
        assert r.status_code == 401 and r.json()["detail"] == "sign in to see this meeting"
