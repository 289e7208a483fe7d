"""A moderator's action has the same effect and the same refusals whichever way it comes: a
participant's request over signaling on the target's edge, one from another edge of the meeting
(over the mesh), or a control plane command; and commands and the mesh follow one epoch rule."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest

from nodes import subjects, wire
from tests.edge.edge_support import MODERATOR, Client, TokenKit
from tests.edge.mesh.cascade_support import join, pid, same_roster
from tests.support.topology import Topology, nats_client
from tests.support.util import eventually

VERB = {"kick": wire.Kick, "mute": wire.Mute, "admit": wire.Admit, "deny": wire.Deny, "promote": wire.Promote}
_ids = itertools.count()


@pytest.fixture
async def control_plane(topology: Topology) -> AsyncIterator[nats.NATS]:
    async with nats_client(topology.control_plane_nats()) as nc:
        yield nc


Way = Callable[..., Awaitable[str]]


def by_signaling(moderator: Client) -> Way:
    """The moderator asks over its socket; the answer: "" (done) or the error's message."""
    async def ask(verb: str, target: str, **fields: str) -> str:
        rid = f"r{next(_ids)}"
        await moderator.send({"type": verb, "id": rid, "participant_id": target, **fields})
        answer = await moderator._wait(lambda m: m.get("re") == rid and m["type"] in ("ok", "error", "muted"),
                                       10, f"the answer to {rid}")
        return answer["message"] if answer["type"] == "error" else ""
    return ask


def by_command(nc: nats.NATS, epoch: int = 0) -> Way:
    async def ask(verb: str, target: str, **fields: str) -> str:
        if verb == "mute":
            fields = {"kind": {"camera": "video", "microphone": "audio"}[fields.pop("source")]}
        cmd = VERB[verb](meeting_id="meet-1", participant_id=target, epoch=epoch, by="acct-host", **fields)
        reply = wire.reply_decoder.decode((await nc.request(subjects.command("meet-1", verb), wire.encode(cmd),
                                                            timeout=5)).data)
        assert isinstance(reply, wire.CommandReply), reply
        assert reply.ok != bool(reply.error), reply
        return reply.error
    return ask


async def test_each_way_has_the_same_effect_and_the_same_refusals(pair, tokens: TokenKit,
                                                                  control_plane: nats.NATS) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)          # on the targets' edge
    remo = await join(us, tokens, "Remo", perms=MODERATOR)      # on the other edge: over the mesh
    targets = {name: await join(eu, tokens, name) for name in ("Ada", "Bea", "Cy")}
    gus = await join(eu, tokens, "Gus", role="guest", sub="guest:g")
    await same_roster([mo, remo, gus, *targets.values()], ["Mo", "Remo", "Ada", "Bea", "Cy", "Gus"])
    await eventually(lambda: "meet-1" in eu.node.commands._subs, what="eu-1 takes the meeting's commands")
    ways = {"signaling": (by_signaling(mo), pid(mo)), "mesh": (by_signaling(remo), pid(remo)),
            "command": (by_command(control_plane), "acct-host")}

    refusals = {}
    for way, (ask, _by) in ways.items():
        ada = pid(targets["Ada"])
        refusals[way] = [await ask("promote", pid(gus)), await ask("admit", ada), await ask("deny", ada)]
    assert refusals["signaling"] == ["a guest cannot be promoted (guests may not moderate)",
                                     f"participant {ada!r} is not waiting in the lobby",
                                     f"participant {ada!r} is not waiting in the lobby"]
    assert refusals["mesh"] == refusals["command"] == refusals["signaling"]
    assert not any(m["type"] == "participant_updated" for m in mo.seen)
    assert eu.node.conference.meetings["meet-1"].participants[pid(gus)].moderator is False

    ada = targets["Ada"]
    for way, (ask, by) in ways.items():
        assert await ask("mute", pid(ada), source="camera") == ""
        told = await ada.expect("muted", timeout=10)
        assert (told["source"], told["muted"], told["by"]) == ("camera", True, by), way
        await ada.send({"type": "mute", "source": "camera", "muted": False})   # the owner unmutes
        await ada.expect("muted", muted=False)

    for (way, (ask, by)), target in zip(ways.items(), targets.values()):
        assert await ask("kick", pid(target), reason=f"by {way}") == ""
        kicked = await target.expect("kicked", timeout=10)
        assert (kicked["by"], kicked["reason"]) == (by, f"by {way}")
        assert await target.closed(timeout=10) == (4010, f"by {way}")
        left = await remo.expect("participant_left", timeout=10, participant_id=pid(target))
        assert left["reason"] == "kicked"


async def test_commands_and_the_mesh_follow_one_epoch_rule(pair, tokens: TokenKit, control_plane: nats.NATS) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR, ep=2)
    ada = await join(eu, tokens, "Ada", ep=2)
    remo = await join(us, tokens, "Remo", perms=MODERATOR, ep=2)
    await same_roster([mo, ada, remo], ["Mo", "Ada", "Remo"])
    await eventually(lambda: "meet-1" in eu.node.commands._subs and "meet-1" in us.node.commands._subs,
                     what="both edges take the meeting's commands")
    on_eu, on_us = eu.node.conference.meetings["meet-1"], us.node.conference.meetings["meet-1"]

    # a command with a newer epoch is carried out and raises the meeting's epoch, as a mesh message would
    assert await by_command(control_plane, epoch=5)("mute", pid(ada), source="microphone") == ""
    assert on_eu.epoch == 5
    assert await by_command(control_plane, epoch=4)("mute", pid(ada), source="camera") == \
        "stale epoch 4 (the meeting is at 5)"
    # the other edge learns the newer epoch from eu-1's mesh state, and then refuses an older command
    await eventually(lambda: on_us.epoch == 5, timeout=10, what="us-1 adopts the newer epoch from the mesh")
    assert await by_command(control_plane, epoch=3)("mute", pid(remo), source="camera") == \
        "stale epoch 3 (the meeting is at 5)"
    assert not [m for m in ada.seen if m["type"] == "muted" and m["source"] == "camera"]
