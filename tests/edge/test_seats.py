"""One seat per join token on one edge, tokens that no longer join, and the entry policy the edge
enforces (from the token's ``pol`` claim and the control plane's ``policy`` command)."""

from __future__ import annotations

import time

import nats

from nodes import wire
from tests.edge.edge_support import (
    MODERATOR,
    Client,
    EdgeServer,
    TokenKit,
    joined_client,
)
from tests.edge.test_commands import command, subscribed
from tests.support.util import eventually


async def join_error(edge: EdgeServer, token: str, code: str) -> dict:
    c = await Client.open(edge.ws_url())
    first = await c.join(token)
    assert first["type"] == "error" and first["code"] == code, first
    assert await c.is_open()
    await c.close()
    return first


async def test_the_same_token_twice_leaves_one_seat(edge: EdgeServer, tokens: TokenKit) -> None:
    mo = await joined_client(edge, tokens.sign(name="Mo", perms=MODERATOR))
    token = tokens.sign(name="Ada")
    first = await joined_client(edge, token)
    second = await joined_client(edge, token)
    assert await first.closed() == (4013, "replaced: the same join token joined again")
    left = await mo.expect("participant_left", participant_id=first.joined["participant_id"])
    assert left["reason"] == "replaced"
    await mo.expect("participant_joined", where=lambda m: m["participant"]["participant_id"] ==
                    second.joined["participant_id"])
    meeting = edge.node.conference.meetings["meet-1"]
    assert sorted(p.name for p in meeting.participants.values()) == ["Ada", "Mo"]
    assert await second.is_open()


async def test_a_denied_participant_s_token_no_longer_joins(edge: EdgeServer, tokens: TokenKit) -> None:
    mo = await joined_client(edge, tokens.sign(name="Mo", perms=MODERATOR))
    token = tokens.sign(name="Gus", role="guest", sub="guest:g", lobby=True)
    gus = await Client.open(edge.ws_url())
    waiting = await gus.join(token)
    await mo.send({"type": "deny", "id": "d", "participant_id": waiting["participant_id"], "reason": "no"})
    await mo.expect("ok", re="d")
    assert (await gus.closed())[0] == 4012
    refused = await join_error(edge, token, "denied")
    assert refused["message"] == "you were turned away from this meeting: this join token no longer joins it"
    assert refused["field"] == "token"
    await joined_client(edge, tokens.sign(name="Gus", role="guest", sub="guest:g", lobby=True))  # a new token may


async def test_the_newest_policy_wins_lock_and_limit(edge: EdgeServer, tokens: TokenKit) -> None:
    old = {"locked": False, "max_participants": 0, "version": 1000}
    locked = {"locked": True, "max_participants": 0, "version": 2000}
    await joined_client(edge, tokens.sign(name="Host", role="host", perms=MODERATOR, pol=locked))
    refused = await join_error(edge, tokens.sign(name="Ada", pol=old), "locked")   # an older snapshot
    assert refused["message"] == "the meeting is locked: only its hosts and moderators may join"
    await joined_client(edge, tokens.sign(name="Mo", role="moderator", perms=MODERATOR, pol=old))
    await joined_client(edge, tokens.sign(name="Bob", pol={"locked": False, "max_participants": 3,
                                                           "version": 3000}))
    full = await join_error(edge, tokens.sign(name="Cy", pol=old), "meeting_full")
    assert full["message"] == "the meeting is full (3 of 3)"


async def test_the_policy_command_changes_what_the_edge_admits(edge: EdgeServer, nc: nats.NATS,
                                                               tokens: TokenKit) -> None:
    await joined_client(edge, tokens.sign(name="Ada"))
    issued_before = tokens.sign(name="Bob")
    await eventually(lambda: subscribed(edge), what="subscribed to the meeting's commands")
    version = int(time.time() * 1000)
    cmd = wire.Policy(meeting_id="meet-1", policy=wire.MeetingPolicy(max_participants=2, locked=True,
                                                                     version=version))
    reply = await command(nc, cmd, verb="policy")
    assert (reply.ok, reply.edge_id, reply.error) == (True, "edge-t", "")
    await join_error(edge, issued_before, "locked")
    unlock = wire.Policy(meeting_id="meet-1", policy=wire.MeetingPolicy(max_participants=2, version=version + 1))
    assert (await command(nc, unlock, verb="policy")).ok
    bob = await joined_client(edge, issued_before)
    assert (await join_error(edge, tokens.sign(name="Cy"), "meeting_full"))["message"] == \
        "the meeting is full (2 of 2)"
    stale = wire.Policy(meeting_id="meet-1", policy=wire.MeetingPolicy(version=version - 5))   # older: ignored
    assert (await command(nc, stale, verb="policy")).ok
    await join_error(edge, tokens.sign(name="Cy"), "meeting_full")
    assert await bob.is_open()
