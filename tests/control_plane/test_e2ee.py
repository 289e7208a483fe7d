"""End-to-end encrypted meetings on the control plane: the ``e2ee`` setting (off by default, set when
creating or editing, fixed while the meeting is live), never combined with ``auto_record``, carried
by the join answer, and every recording of such a meeting refused with a clear 409."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.exceptions import HTTPException

from control_plane.events.apply import apply_event
from control_plane.meetings.e2ee import NOT_RECORDABLE
from nodes import wire
from tests.control_plane.meetings_support import (
    admin,
    create_meeting,
    edges,  # noqa: F401 - the fixture
    field_names,
    nats_overrides,
    user,
    wait_edges,
    wait_ready,
)


async def test_the_setting_is_off_by_default_and_set_when_creating_or_editing(control_plane) -> None:  # noqa: ANN001
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        plain = await create_meeting(cp, host)
        assert plain["e2ee"] is False
        secret = await create_meeting(cp, host, title="Board", e2ee=True)
        assert secret["e2ee"] is True
        url = f"/api/v1/meetings/{secret['id']}"
        assert (await cp.client.get(url, headers=host)).json()["e2ee"] is True
        listed = (await cp.client.get("/api/v1/meetings?scope=mine", headers=host)).json()
        assert {m["id"]: m["e2ee"] for m in listed} == {plain["id"]: False, secret["id"]: True}

        r = await cp.client.patch(url, json={"e2ee": False}, headers=host)
        assert r.status_code == 200 and r.json()["e2ee"] is False
        r = await cp.client.patch(url, json={"title": "Board (renamed)"}, headers=host)
        assert r.status_code == 200 and r.json()["e2ee"] is False          # omitted: unchanged
        r = await cp.client.patch(url, json={"e2ee": True}, headers=host)
        assert r.status_code == 200 and r.json()["e2ee"] is True

        r = await cp.client.post("/api/v1/meetings", json={"title": "x", "e2ee": "yes"}, headers=host)
        assert r.status_code == 400 and field_names(r) == ["e2ee"]
        r = await cp.client.patch(url, json={"e2ee": None}, headers=host)
        assert r.status_code == 400 and field_names(r) == ["e2ee"]


async def test_auto_record_cannot_be_combined_with_e2ee(control_plane) -> None:  # noqa: ANN001
    async with control_plane() as cp:
        boss = await admin(cp)   # an admin may record: only the combination is refused
        r = await cp.client.post("/api/v1/meetings", json={"title": "x", "e2ee": True, "auto_record": True},
                                 headers=boss)
        assert r.status_code == 422 and field_names(r) == ["auto_record"], r.text
        assert "cannot be combined with e2ee" in r.json()["detail"]

        secret = await create_meeting(cp, boss, e2ee=True)
        r = await cp.client.patch(f"/api/v1/meetings/{secret['id']}", json={"auto_record": True}, headers=boss)
        assert r.status_code == 422 and field_names(r) == ["auto_record"]
        recorded = await create_meeting(cp, boss, auto_record=True)
        r = await cp.client.patch(f"/api/v1/meetings/{recorded['id']}", json={"e2ee": True}, headers=boss)
        assert r.status_code == 422 and field_names(r) == ["e2ee"]
        assert "an end-to-end encrypted meeting cannot be recorded" in r.json()["detail"]
        # Both changed at once: fine when one of them goes off.
        r = await cp.client.patch(f"/api/v1/meetings/{recorded['id']}", json={"e2ee": True, "auto_record": False},
                                  headers=boss)
        assert r.status_code == 200 and (r.json()["e2ee"], r.json()["auto_record"]) == (True, False)
        # Nothing was changed by the refusals.
        again = (await cp.client.get(f"/api/v1/meetings/{secret['id']}", headers=boss)).json()
        assert (again["e2ee"], again["auto_record"]) == (True, False)


async def test_the_setting_does_not_change_while_the_meeting_is_live(control_plane) -> None:  # noqa: ANN001
    async with control_plane() as cp:
        host = await user(cp, "hanna", "host")
        m = await create_meeting(cp, host, e2ee=True)
        await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=m["id"], edge_id="e", participant_id="p"))
        url = f"/api/v1/meetings/{m['id']}"
        r = await cp.client.patch(url, json={"e2ee": False}, headers=host)
        assert r.status_code == 409 and field_names(r) == ["e2ee"]
        assert "cannot change while the meeting is live" in r.json()["detail"]
        r = await cp.client.patch(url, json={"e2ee": True, "title": "Still secret"}, headers=host)
        assert r.status_code == 200 and r.json()["e2ee"] is True       # the same value: no change
        assert r.json()["state"] == "live"


async def test_recording_an_e2ee_meeting_is_refused(control_plane, tmp_path: Path) -> None:  # noqa: ANN001
    async with control_plane(recordings={"dir": str(tmp_path / "recordings")}) as cp:
        boss = await admin(cp)
        secret = await create_meeting(cp, boss, e2ee=True)
        plain = await create_meeting(cp, boss)
        for m in (secret, plain):
            await apply_event(cp.services.db, wire.ParticipantJoined(meeting_id=m["id"], edge_id="e",
                                                                     participant_id="p"))
        r = await cp.client.post(f"/api/v1/meetings/{secret['id']}/recording", headers=boss)
        assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
        assert r.json()["detail"] == f"e2ee: {NOT_RECORDABLE}" and field_names(r) == ["e2ee"]
        # A plain meeting gets past that check (and stops at the next: no edge hosts it here).
        r = await cp.client.post(f"/api/v1/meetings/{plain['id']}/recording", headers=boss)
        assert r.status_code == 409 and field_names(r) == ["state"], r.text
        assert await cp.services.recordings.repo.active(secret["id"]) is None
        assert (await cp.client.get(f"/api/v1/meetings/{secret['id']}/recordings", headers=boss)).json() == []
        # Every start goes through begin (the API, a moderator in the room through the edge, auto_record).
        with pytest.raises(HTTPException) as refused:
            await cp.services.recordings.begin(secret["id"], "")
        assert refused.value.status_code == 409 and NOT_RECORDABLE in str(refused.value.detail)


async def test_the_join_answer_says_the_meeting_is_e2ee(control_plane, nats_server, edges) -> None:  # noqa: ANN001, F811
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        host = await user(cp, "hanna", "host")
        member = await user(cp, "mia")
        edge = await edges("edge-a")
        await wait_edges(cp, "edge-a")
        secret = await create_meeting(cp, host, e2ee=True)
        plain = await create_meeting(cp, host)
        for m, expected in ((secret, True), (plain, False)):
            r = await cp.client.post(f"/api/v1/meetings/{m['id']}/join", json={}, headers=member)
            assert r.status_code == 200, r.text
            assert r.json()["e2ee"] is expected
        await edge.stop()
