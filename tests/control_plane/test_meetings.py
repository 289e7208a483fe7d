"""Meetings over HTTP: who may create and manage them, settings, validation, listing, restart."""

from __future__ import annotations

import time

from control_plane.events.apply import apply_event
from nodes import wire
from tests.control_plane.meetings_support import admin, create_meeting, field_names, user

SCHEDULE = {"start": "2030-03-11T09:00:00", "end": "2030-03-11T10:00:00", "time_zone": "Europe/Berlin"}


async def test_a_member_may_not_create_meetings(control_plane) -> None:
    async with control_plane() as cp:
        member = await user(cp, "mia", "member")
        r = await cp.client.post("/api/v1/meetings", json={"title": "Mine"}, headers=member)
        assert r.status_code == 403
        assert r.json()["detail"] == "role 'member' may not create meetings (needs 'host')"
        r = await cp.client.post("/api/v1/meetings", json={"title": "Mine"})
        assert r.status_code == 401
        assert (await cp.client.get("/api/v1/meetings", headers=member)).json() == []


async def test_create_read_update_delete(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia", "member")
        m = await create_meeting(cp, host, title="Planning", description="Q3", schedule=SCHEDULE, password="open-sesame",
                                 lobby=True, allow_guests=True, max_participants=12, publish_policy="hosts",
                                 locked=False, cohosts=["mia"])
        assert m["title"] == "Planning" and m["description"] == "Q3" and m["state"] == "scheduled"
        assert m["has_password"] is True and "password" not in m
        assert (m["lobby"], m["allow_guests"], m["max_participants"], m["publish_policy"]) == (True, True, 12, "hosts")
        assert m["schedule"]["time_zone"] == "Europe/Berlin" and m["schedule"]["start"] == "2030-03-11T09:00:00"
        assert m["next_occurrence"]["start_utc"] == "2030-03-11T08:00:00Z"
        assert m["owner"]["username"] == "hanna" and [c["username"] for c in m["cohosts"]] == ["mia"]
        assert m["can_manage"] is True

        row = await cp.services.db.fetch_one("SELECT password_hash FROM meetings WHERE id = ?", (m["id"],))
        assert row["password_hash"].startswith("$argon2id$") and "open-sesame" not in row["password_hash"]

        r = await cp.client.patch(f"/api/v1/meetings/{m['id']}", headers=member,  # a co-host may edit
                                  json={"title": "Planning (moved)", "password": None, "locked": True})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["title"] == "Planning (moved)" and body["has_password"] is False and body["locked"] is True
        assert body["description"] == "Q3" and body["lobby"] is True  # untouched fields stay

        r = await cp.client.patch(f"/api/v1/meetings/{m['id']}", headers=host, json={"schedule": None})
        assert r.status_code == 200 and r.json()["schedule"] is None and r.json()["next_occurrence"] is None

        assert (await cp.client.delete(f"/api/v1/meetings/{m['id']}", headers=host)).status_code == 204
        r = await cp.client.get(f"/api/v1/meetings/{m['id']}", headers=host)
        assert r.status_code == 404 and r.json()["detail"] == "no such meeting"


async def test_only_owner_cohosts_and_admins_manage(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        other_host = await user(cp, "otto", "host")
        boss = await admin(cp)
        m = await create_meeting(cp, host, title="Private")
        url = f"/api/v1/meetings/{m['id']}"

        r = await cp.client.get(url, headers=other_host)  # anyone signed in with the link may read it
        assert r.status_code == 200 and r.json()["can_manage"] is False
        r = await cp.client.patch(url, headers=other_host, json={"title": "Mine now"})
        assert r.status_code == 403
        assert r.json()["detail"] == "only the meeting's owner, its co-hosts and admins may change it"
        r = await cp.client.delete(url, headers=other_host)
        assert r.status_code == 403 and "may delete it" in r.json()["detail"]
        r = await cp.client.post(f"{url}/restart", headers=other_host)
        assert r.status_code == 403 and "may restart it" in r.json()["detail"]

        assert (await cp.client.get(url, headers=boss)).json()["can_manage"] is True
        assert (await cp.client.delete(url, headers=boss)).status_code == 204


async def test_bad_input_is_refused_naming_the_field(control_plane) -> None:
    async with control_plane(meetings={"max_participants_limit": 50}) as cp:
        host = await user(cp, "hanna", "host")

        async def refused(body: dict) -> tuple[int, list[str], str]:
            r = await cp.client.post("/api/v1/meetings", json=body, headers=host)
            return r.status_code, field_names(r), r.json()["detail"]

        assert (await refused({"title": ""}))[:2] == (400, ["title"])
        assert (await refused({"title": "x", "publish_policy": "nobody"}))[:2] == (400, ["publish_policy"])
        assert (await refused({"title": "x", "max_participants": 1}))[:2] == (400, ["max_participants"])
        assert await refused({"title": "x", "max_participants": 51}) == (
            400, ["max_participants"], "max_participants: must be at most 50 on this server")
        assert await refused({"title": "x", "cohosts": ["ghost"]}) == (
            400, ["cohosts"], "cohosts: no account named 'ghost'")
        assert (await refused({"title": "x", "password": "abc"}))[:2] == (400, ["password"])
        assert (await refused({"title": "x", "colour": "red"}))[0] == 400
        status, fields, detail = await refused({"title": "x", "schedule": {**SCHEDULE, "time_zone": "Nowhere/Land"}})
        assert (status, fields) == (400, ["schedule.time_zone"]) and "unknown time zone 'Nowhere/Land'" in detail
        status, fields, _ = await refused({"title": "x", "schedule": {**SCHEDULE, "start": "tomorrow"}})
        assert (status, fields) == (400, ["schedule.start"])
        status, fields, _ = await refused({"title": "x", "schedule": {**SCHEDULE, "recurrence": {"freq": "yearly"}}})
        assert (status, fields) == (400, ["schedule.recurrence.freq"])
        assert (await cp.client.get("/api/v1/meetings", headers=host)).json() == []  # nothing half-made

        m = await create_meeting(cp, host)
        r = await cp.client.patch(f"/api/v1/meetings/{m['id']}", headers=host,
                                  json={"title": "New", "schedule": {**SCHEDULE, "end": "2030-03-11T08:00:00"}})
        assert r.status_code == 400 and field_names(r) == ["schedule.end"]
        assert (await cp.client.get(f"/api/v1/meetings/{m['id']}", headers=host)).json()["title"] == "Weekly sync"
        r = await cp.client.get("/api/v1/meetings/not.a.meeting", headers=host)
        assert r.status_code == 404


async def test_list_scopes(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        other = await user(cp, "otto", "host")
        boss = await admin(cp)
        later = await create_meeting(cp, host, title="Later", schedule={**SCHEDULE, "start": "2031-01-05T09:00:00",
                                                                         "end": "2031-01-05T10:00:00"})
        soon = await create_meeting(cp, host, title="Soon", schedule=SCHEDULE)
        past = await create_meeting(cp, host, title="Past", schedule={**SCHEDULE, "start": "2020-01-06T09:00:00",
                                                                       "end": "2020-01-06T10:00:00"})
        series = await create_meeting(cp, host, title="Daily", schedule={
            **SCHEDULE, "start": "2020-01-06T09:00:00", "end": "2020-01-06T10:00:00", "recurrence": {"freq": "daily"}})
        adhoc = await create_meeting(cp, host, title="Ad hoc")
        shared = await create_meeting(cp, other, title="Shared", cohosts=["hanna"])
        await create_meeting(cp, other, title="Not mine")

        async def titles(scope: str, headers: dict) -> list[str]:
            r = await cp.client.get("/api/v1/meetings", params={"scope": scope}, headers=headers)
            assert r.status_code == 200, r.text
            return [m["title"] for m in r.json()]

        assert sorted(await titles("mine", host)) == ["Ad hoc", "Daily", "Later", "Past", "Shared", "Soon"]
        # Upcoming: by next occurrence (the endless series has one tomorrow), unscheduled last; not the past.
        assert await titles("upcoming", host) == ["Daily", "Soon", "Later", "Ad hoc", "Shared"]

        await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=soon["id"], edge_id="e", participant_id="p"))
        await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=shared["id"], edge_id="e",
                                                                 participant_id="p"))
        assert sorted(await titles("live", host)) == ["Shared", "Soon"]
        assert await titles("live", other) == ["Shared"]
        assert sorted(await titles("live", boss)) == ["Shared", "Soon"]  # admins see every live meeting

        await cp.services.meetings.mark_ended(later["id"], reason="ended")
        assert "Later" not in await titles("upcoming", host)
        r = await cp.client.get("/api/v1/meetings", params={"scope": "everything"}, headers=host)
        assert r.status_code == 400 and field_names(r) == ["scope"]
        assert r.json()["detail"] == "scope: must be one of mine, upcoming, live"
        del past, series, adhoc


async def test_guests_see_only_meetings_that_allow_them(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        open_m = await create_meeting(cp, host, title="Open", allow_guests=True, cohosts=[])
        closed = await create_meeting(cp, host, title="Closed")
        anon = cp.client  # no credentials sent
        r = await anon.get(f"/api/v1/meetings/{open_m['id']}")
        assert r.status_code == 200
        body = r.json()
        assert body["title"] == "Open" and body["can_manage"] is False and body["owner"] is None
        r = await anon.get(f"/api/v1/meetings/{closed['id']}")
        assert r.status_code == 401 and r.json()["detail"] == "sign in to see this meeting"


async def test_restart_after_end(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        m = await create_meeting(cp, host)
        url = f"/api/v1/meetings/{m['id']}"
        r = await cp.client.post(f"{url}/restart", headers=host)
        assert r.status_code == 409 and r.json()["detail"] == "state: the meeting is scheduled, not ended"
        await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=m["id"], edge_id="e", participant_id="p"))
        await cp.services.meetings.mark_ended(m["id"], reason="ended", at=time.time())
        ended = (await cp.client.get(url, headers=host)).json()
        assert ended["state"] == "ended" and ended["ended_at"] is not None
        r = await cp.client.post(f"{url}/restart", headers=host)
        assert r.status_code == 200 and r.json()["state"] == "scheduled" and r.json()["ended_at"] is None


async def test_occurrences_endpoint(control_plane) -> None:
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        m = await create_meeting(cp, host, schedule={**SCHEDULE, "recurrence": {"freq": "weekly", "count": 3}})
        r = await cp.client.get(f"/api/v1/meetings/{m['id']}/occurrences", headers=host)
        assert [o["start"] for o in r.json()] == ["2030-03-11T09:00:00", "2030-03-18T09:00:00", "2030-03-25T09:00:00"]
        r = await cp.client.get(f"/api/v1/meetings/{m['id']}/occurrences", headers=host,
                                params={"after": "2030-03-12T00:00:00Z", "limit": 1})
        assert [o["start_utc"] for o in r.json()] == ["2030-03-18T08:00:00Z"]
        r = await cp.client.get(f"/api/v1/meetings/{m['id']}/occurrences", headers=host, params={"limit": 0})
        assert r.status_code == 400
