"""The audit log over the API: admin actions on accounts and keys, moderators' actions reported by
edges, who may read it, newest first, filters and paging."""

from __future__ import annotations

from control_plane.events.apply import apply_event
from nodes import wire
from tests.control_plane.meetings_support import PASSWORD, admin, create_meeting, user


async def entries(cp, headers, **params) -> list[dict]:  # noqa: ANN001
    r = await cp.client.get("/api/v1/audit", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_admin_actions_are_audited_newest_first_and_only_admins_read_them(control_plane) -> None:
    async with control_plane() as cp:
        root = await admin(cp)
        member = await user(cp, "mia", "member")
        assert (await cp.client.get("/api/v1/audit")).status_code == 401
        r = await cp.client.get("/api/v1/audit", headers=member)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"

        # Create (the password generated and shown once), role, disable, enable, reset password.
        r = await cp.client.post("/api/v1/accounts", json={"username": "olga", "role": "member"}, headers=root)
        assert r.status_code == 201, r.text
        created = r.json()
        olga, generated = created["account"]["id"], created["password"]
        assert generated and created["account"]["role"] == "member"
        assert (await cp.client.post("/api/v1/auth/token",
                                     json={"username": "olga", "password": generated})).status_code == 200
        r = await cp.client.post("/api/v1/accounts", json={"username": "olga"}, headers=root)
        assert r.status_code == 409
        assert (await cp.client.post("/api/v1/accounts", json={"username": "x"}, headers=member)).status_code == 403
        for change in ({"role": "host"}, {"disabled": True}, {"disabled": False}):
            r = await cp.client.patch(f"/api/v1/accounts/{olga}", json=change, headers=root)
            assert r.status_code == 200, r.text
        r = await cp.client.post(f"/api/v1/accounts/{olga}/password", json={"password": "another-long-pw"},
                                 headers=root)
        assert r.status_code == 200 and r.json()["password"] is None
        assert (await cp.client.post("/api/v1/auth/token",
                                     json={"username": "olga", "password": "another-long-pw"})).status_code == 200
        r = await cp.client.post(f"/api/v1/accounts/{olga}/password", json={"password": "short"}, headers=root)
        assert r.status_code == 400
        assert (await cp.client.post("/api/v1/accounts/nobody/password", headers=root)).status_code == 404

        log = await entries(cp, root)
        assert [e["action"] for e in log] == ["account.password_reset", "account.enable", "account.disable",
                                              "account.role", "account.create"]
        for e in log:
            assert (e["actor_username"], e["actor_kind"], e["target_kind"], e["target_id"]) == \
                ("admin", "admin", "account", olga)
            assert e["details"]["username"] == "olga" and e["at_iso"].endswith("Z")
        assert log[3]["details"] == {"username": "olga", "role": "host", "was": "member"}
        assert log[0]["details"]["generated"] is False
        assert "another-long-pw" not in str(log) and generated not in str(log)

        # Filters and paging.
        assert [e["action"] for e in await entries(cp, root, action="account.role")] == ["account.role"]
        assert len(await entries(cp, root, action="account")) == 5
        assert len(await entries(cp, root, actor="admin")) == 5 == len(await entries(cp, root, actor=log[0]["actor_id"]))
        assert await entries(cp, root, actor="mia") == []
        page = await entries(cp, root, limit=2)
        assert [e["id"] for e in page] == [e["id"] for e in log[:2]]
        rest = await entries(cp, root, before=page[-1]["id"])
        assert [e["id"] for e in rest] == [e["id"] for e in log[2:]]
        for bad in ({"limit": 0}, {"before": "not hex!"}, {"action": "DROP TABLE"}):
            r = await cp.client.get("/api/v1/audit", params=bad, headers=root)
            assert r.status_code == 400, (bad, r.text)


async def test_key_rotation_is_audited_and_keeps_older_keys_published(control_plane) -> None:
    async with control_plane() as cp:
        root = await admin(cp)
        member = await user(cp, "mia", "member")
        before = (await cp.client.get("/api/v1/keys", headers=root)).json()
        assert len(before) == 1 and before[0]["current"] and before[0]["alg"] == "EdDSA"
        assert (await cp.client.post("/api/v1/keys/rotate", headers=member)).status_code == 403
        assert (await cp.client.get("/api/v1/keys", headers=member)).status_code == 403
        r = await cp.client.post("/api/v1/keys/rotate", headers=root)
        assert r.status_code == 200, r.text
        after = r.json()
        assert [k["current"] for k in after] == [True, False] and after[1]["kid"] == before[0]["kid"]
        assert after[0]["created_at"] >= after[1]["created_at"]
        jwks = (await cp.client.get("/api/v1/jwks")).json()
        assert {k["kid"] for k in jwks["keys"]} == {k["kid"] for k in after}
        assert cp.services.tokens.keys.current.kid == after[0]["kid"]
        log = await entries(cp, root, action="key")
        assert [(e["action"], e["target_id"], e["actor_username"]) for e in log] == \
            [("key.rotate", after[0]["kid"], "admin")]


async def test_moderator_actions_reported_by_edges_are_audited(control_plane) -> None:
    async with control_plane() as cp:
        root = await admin(cp)
        host = await user(cp, "hanna", "host")
        mid = (await create_meeting(cp, host))["id"]
        db = cp.services.db
        hanna = (await cp.client.get("/api/v1/auth/me", headers=host)).json()["account"]["id"]
        await apply_event(db, wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p-host",
                                                     account_id=hanna, display_name="Hanna", role="host"))
        await apply_event(db, wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id="p-2",
                                                     account_id="", display_name="Gary", role="guest"))
        # Self-mute and an unmute are not moderation; a mute by a moderator in the room is.
        await apply_event(db, wire.ParticipantMuted(meeting_id=mid, edge_id="edge-a", participant_id="p-2",
                                                    kind="audio", by="p-2"))
        await apply_event(db, wire.ParticipantMuted(meeting_id=mid, edge_id="edge-a", participant_id="p-2",
                                                    kind="video", by="p-host"))
        kicked = wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p-2", reason="kicked",
                                      by="p-host")
        await apply_event(db, kicked)
        await apply_event(db, kicked)  # delivered twice: one entry
        for pid in ("p-3", "p-4"):
            await apply_event(db, wire.ParticipantJoined(meeting_id=mid, edge_id="edge-a", participant_id=pid,
                                                         display_name=pid, role="guest"))
        # A kick the control plane asked for names the account in ``by``: its meeting.kick entry has it.
        await apply_event(db, wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p-3",
                                                   reason="kicked", by=hanna))
        # A removal nobody is named for (a token barred on another edge): the edge that reported it.
        await apply_event(db, wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p-4",
                                                   reason="kicked"))
        await apply_event(db, wire.ParticipantLeft(meeting_id=mid, edge_id="edge-a", participant_id="p-host"))

        log = await entries(cp, root, meeting=mid)
        assert [(e["action"], e["target_id"]) for e in log] == \
            [("participant.kicked", "p-4"), ("participant.kicked", "p-2"), ("participant.muted", "p-2")]
        unnamed, kick, mute = log
        assert (mute["actor_id"], mute["actor_username"], mute["actor_kind"]) == (hanna, "hanna", "moderator")
        assert mute["target_id"] == "p-2" and mute["details"]["kind"] == "video"
        assert (kick["actor_id"], kick["actor_username"], kick["actor_kind"]) == (hanna, "hanna", "moderator")
        assert kick["details"] == {"reported_by": "edge-a", "by_participant": "p-host"}
        assert (unnamed["actor_id"], unnamed["actor_kind"]) == ("", "moderator")
        assert unnamed["details"]["reported_by"] == "edge-a"
        assert PASSWORD not in str(log)
