"""Commands from the control plane over a real nats-server: carried out, replied, once."""

from __future__ import annotations

import time

import nats
import nats.errors
import pytest

from nodes import subjects, wire
from tests.edge.edge_support import MEETING, MODERATOR, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually

VERB = {wire.Kick: "kick", wire.Mute: "mute", wire.Admit: "admit", wire.Deny: "deny", wire.Promote: "promote",
        wire.EndMeeting: "end"}


async def command(nc: nats.NATS, cmd: wire._Cmd, verb: str | None = None, timeout: float = 3.0) -> wire.CommandReply:
    msg = await nc.request(subjects.command(cmd.meeting_id, verb or VERB[type(cmd)]), wire.encode(cmd),
                           timeout=timeout)
    reply = wire.reply_decoder.decode(msg.data)
    assert isinstance(reply, wire.CommandReply), reply
    return reply


def subscribed(edge: EdgeServer, meeting: str = MEETING) -> bool:
    return meeting in edge.node.commands._subs


async def test_kick_and_mute_are_carried_out_and_replied(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    await eventually(lambda: subscribed(edge), what="subscribed to the meeting's commands")
    mute = wire.Mute(meeting_id=MEETING, participant_id=b.joined["participant_id"], kind="video", by="acct-host")
    reply = await command(nc, mute)
    assert (reply.ok, reply.command_id, reply.edge_id, reply.error) == (True, mute.command_id, "edge-t", "")
    told = await b.expect("muted")
    assert (told["source"], told["muted"], told["by"]) == ("camera", True, "acct-host")
    await a.expect("muted")

    kick = wire.Kick(meeting_id=MEETING, participant_id=b.joined["participant_id"], reason="bye")
    assert (await command(nc, kick)).ok
    assert (await b.expect("kicked"))["by"] == "control-plane"
    assert await b.closed() == (4010, "bye")
    assert (await a.expect("participant_left"))["reason"] == "kicked"


async def test_a_repeated_command_id_is_carried_out_once(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    b = await joined_client(edge, tokens.sign(name="Bob"))
    await eventually(lambda: subscribed(edge), what="subscribed")
    mute = wire.Mute(meeting_id=MEETING, participant_id=b.joined["participant_id"], kind="audio")
    first = await command(nc, mute)
    await b.expect("muted", muted=True)
    await b.send({"type": "mute", "source": "microphone", "muted": False})   # the owner unmutes
    await b.expect("muted", muted=False)
    again = await command(nc, mute)                                        # a retry of the same command
    assert again == first
    await b.send({"type": "ping", "id": "sync"})
    await b.expect("pong")
    assert [m["muted"] for m in b.seen if m["type"] == "muted"] == [True, False]   # not muted a second time
    assert edge.node.commands.executed == 1


async def test_lobby_commands_admit_deny_promote(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    g1, g2 = Client.open(edge.ws_url()), Client.open(edge.ws_url())
    g1, g2 = await g1, await g2
    w1 = await g1.join(tokens.sign(name="G1", lobby=True))
    w2 = await g2.join(tokens.sign(name="G2", lobby=True))
    await eventually(lambda: subscribed(edge), what="subscribed")
    assert (await command(nc, wire.Admit(meeting_id=MEETING, participant_id=w1["participant_id"]))).ok
    assert (await g1.expect("admitted"))["by"] == "control-plane"
    await g1.expect("joined")
    assert (await command(nc, wire.Deny(meeting_id=MEETING, participant_id=w2["participant_id"]))).ok
    await g2.expect("denied")
    assert (await g2.closed())[0] == 4012
    again = await command(nc, wire.Admit(meeting_id=MEETING, participant_id=w1["participant_id"]))
    assert not again.ok and "not waiting in the lobby" in again.error
    assert (await command(nc, wire.Promote(meeting_id=MEETING, participant_id=a.joined["participant_id"]))).ok
    assert (await a.expect("participant_updated"))["participant"]["moderator"] is True


async def test_a_guest_is_not_promoted_by_a_command(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    g = await joined_client(edge, tokens.sign(name="Gus", role="guest", sub="guest:xyz"))
    await eventually(lambda: subscribed(edge), what="subscribed")
    reply = await command(nc, wire.Promote(meeting_id=MEETING, participant_id=g.joined["participant_id"]))
    assert not reply.ok and "a guest cannot be promoted" in reply.error
    await g.send({"type": "kick", "participant_id": a.joined["participant_id"]})
    assert "only moderators" in (await g.error("forbidden"))["message"]


async def test_end_meeting_from_the_control_plane(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada", perms=MODERATOR))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    await eventually(lambda: subscribed(edge), what="subscribed")
    reply = await command(nc, wire.EndMeeting(meeting_id=MEETING, reason="ended by host", by="acct-1"))
    assert reply.ok
    for c in (a, b):
        ended = await c.expect("meeting_ended")
        assert ended["reason"] == "ended by host" and ended["by"] == "acct-1"
        assert (await c.closed())[0] == 4011
    await eventually(lambda: not edge.node.commands._subs, what="unsubscribed once the meeting closed")
    with pytest.raises(nats.errors.NoRespondersError):                  # nobody hosts it any more
        await command(nc, wire.EndMeeting(meeting_id=MEETING))


async def test_refusals(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    b = await joined_client(edge, tokens.sign(name="Bob", ep=3))
    await eventually(lambda: subscribed(edge), what="subscribed")
    pid = b.joined["participant_id"]
    t0 = time.monotonic()
    reply = await command(nc, wire.Kick(meeting_id=MEETING, participant_id="someone-else"))
    assert (reply.ok, reply.error) == (False, "not here")
    assert time.monotonic() - t0 >= edge.settings.commands.not_here_delay   # another edge's answer would win
    stale = await command(nc, wire.Kick(meeting_id=MEETING, participant_id=pid, epoch=2))
    assert not stale.ok and "stale epoch 2" in stale.error
    bad_kind = await command(nc, wire.Mute(meeting_id=MEETING, participant_id=pid, kind="smell"))
    assert not bad_kind.ok and "unknown kind 'smell'" in bad_kind.error
    wrong = await command(nc, wire.Kick(meeting_id=MEETING, participant_id=pid), verb="mute")
    assert not wrong.ok and "does not belong on" in wrong.error
    msg = await nc.request(subjects.command(MEETING, "kick"), b'{"type":"cmd.kick"}', timeout=3)
    garbled = wire.reply_decoder.decode(msg.data)
    assert not garbled.ok and garbled.error.startswith("bad command") and "meeting_id" in garbled.error
    assert await b.is_open()                                 # none of it touched Bob


async def test_no_responders_for_a_meeting_not_hosted(edge: EdgeServer, nc: nats.NATS) -> None:
    with pytest.raises(nats.errors.NoRespondersError):
        await command(nc, wire.Kick(meeting_id="not-here", participant_id="p"))


async def test_with_two_edges_the_hosting_edge_answers(make_edge, nc: nats.NATS, tokens: TokenKit) -> None:
    """A meeting spread over two edges: the edge with the participant answers first; EndMeeting
    reaches both."""
    # Both edges share this test's event loop: a generous delay keeps the order independent of its load.
    slow = {"not_here_delay": 1.0}
    async with make_edge(commands=slow) as one, make_edge(edge_id="edge-two", commands=slow) as two:
        a = await joined_client(one, tokens.sign(name="Ada"))
        b = await joined_client(two, tokens.sign(name="Bob", eid="edge-two"))
        await eventually(lambda: subscribed(one) and subscribed(two), what="both subscribed")
        reply = await command(nc, wire.Mute(meeting_id=MEETING, participant_id=b.joined["participant_id"]))
        assert (reply.ok, reply.edge_id) == (True, "edge-two")
        await b.expect("muted")
        reply = await command(nc, wire.Mute(meeting_id=MEETING, participant_id=a.joined["participant_id"]))
        assert (reply.ok, reply.edge_id) == (True, "edge-t")
        assert (await command(nc, wire.EndMeeting(meeting_id=MEETING))).ok
        for c in (a, b):
            assert (await c.closed())[0] == 4011
        await eventually(lambda: not one.node.conference.meetings and not two.node.conference.meetings,
                         what="ended on both edges")
