"""iCalendar (RFC 5545) for a meeting or a series: one VEVENT, with an RRULE for a series.

Times are written as local times with ``TZID`` and a matching VTIMEZONE built from the IANA
database (the zone's transitions over the years the meeting spans). Text is escaped (backslash,
``;``, ``,`` and newlines), lines end in CRLF and are folded at 75 octets without splitting a
UTF-8 character.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .recurrence import Schedule, rrule, series_end

PRODID = "-//Curious Connect//Meetings//EN"


def escape_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str, limit: int = 75) -> str:
    """One content line folded into CRLF-separated pieces of at most *limit* octets."""
    data = line.encode("utf-8")
    pieces: list[bytes] = []
    width = limit
    while len(data) > width:
        cut = width
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        pieces.append(data[:cut])
        data = data[cut:]
        width = limit - 1  # continuation lines start with a space
    pieces.append(data)
    return "\r\n ".join(p.decode("utf-8") for p in pieces) + "\r\n"


def _local_stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%S")


def _utc_stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _offset(delta: timedelta) -> str:
    total = int(delta.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{h:02d}{m:02d}" + (f"{s:02d}" if s else "")


def _transitions(tz: ZoneInfo, first_year: int, last_year: int) -> list[tuple[datetime, timedelta, timedelta]]:
    """UTC instants in the years given where the zone's offset changes, with (before, after)."""
    out = []
    t = datetime(first_year, 1, 1, 12, tzinfo=UTC)
    end = datetime(last_year, 12, 31, 12, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + timedelta(days=1)
        off = nxt.astimezone(tz).utcoffset()
        if off != prev:
            lo, hi = t, nxt  # the change lies in (lo, hi]: bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            out.append((hi.replace(microsecond=0), prev, off))
            prev = off
        t = nxt
    return out


def vtimezone(name: str, first_year: int, last_year: int) -> list[str]:
    tz = ZoneInfo(name)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]
    changes = _transitions(tz, first_year - 1, last_year)
    if not changes:
        off = datetime(first_year, 1, 1, tzinfo=UTC).astimezone(tz).utcoffset() or timedelta(0)
        label = datetime(first_year, 1, 1, tzinfo=UTC).astimezone(tz).tzname() or name
        lines += ["BEGIN:STANDARD", "DTSTART:19700101T000000", f"TZOFFSETFROM:{_offset(off)}",
                  f"TZOFFSETTO:{_offset(off)}", f"TZNAME:{escape_text(label)}", "END:STANDARD"]
    for at, before, after in changes:
        local = at.astimezone(tz)
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        lines += [f"BEGIN:{kind}", f"DTSTART:{_local_stamp((at + before).replace(tzinfo=None))}",
                  f"TZOFFSETFROM:{_offset(before)}", f"TZOFFSETTO:{_offset(after)}",
                  f"TZNAME:{escape_text(local.tzname() or name)}", f"END:{kind}"]
    lines.append("END:VTIMEZONE")
    return lines


def calendar(*, meeting_id: str, title: str, description: str, schedule: Schedule, url: str,
             sequence: int = 0, stamp: datetime | None = None) -> str:
    """The ``.ics`` text for one meeting (a series when *schedule* has a rule)."""
    host = urlsplit(url).hostname or "curious-connect"
    stamp = stamp or datetime.now(UTC)
    end = series_end(schedule)
    last_year = (end.year if end is not None else schedule.start.year + 2)
    tz = schedule.time_zone
    body = description.strip()
    body = f"{body}\n\nJoin: {url}" if body else f"Join: {url}"
    event = ["BEGIN:VEVENT", f"UID:{meeting_id}@{host}", f"DTSTAMP:{_utc_stamp(stamp)}", f"SEQUENCE:{sequence}",
             f"DTSTART;TZID={tz}:{_local_stamp(schedule.start)}", f"DTEND;TZID={tz}:{_local_stamp(schedule.end)}"]
    rule = rrule(schedule)
    if rule:
        event.append(f"RRULE:{rule}")
    event += [f"SUMMARY:{escape_text(title)}", f"DESCRIPTION:{escape_text(body)}", f"URL:{url}", "END:VEVENT"]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             *vtimezone(tz, schedule.start.year, last_year), *event, "END:VCALENDAR"]
    return "".join(fold(line) for line in lines)
