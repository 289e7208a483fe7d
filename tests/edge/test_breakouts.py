"""Breakout commands from the control plane over a real nats-server: each participant named in a
``Breakout`` hears where to go (and only it), a ``Notice`` reaches everyone in the meeting, and
what the edge refuses."""

from __future__ import annotations

import nats

from nodes import subjects, wire
from tests.edge.edge_support import MEETING, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


async def command(nc: nats.NATS, cmd: wire._Cmd, verb: str) -> wire.CommandReply:
    msg = await nc.request(subjects.command(cmd.meeting_id, verb), wire.encode(cmd), timeout=3)
    reply = wire.reply_decoder.decode(msg.data)
    assert isinstance(reply, wire.CommandReply), reply
    return reply


def _join(room: str) -> dict:
    return {"meeting_id": room, "token": "a.signed.token", "edge_url": "ws://edge-b.test/ws", "edge_id": "edge-b",
            "alternates": [{"edge_id": "edge-c", "url": "ws://edge-c.test/ws"}], "permissions": {"chat": True}}


async def test_each_participant_hears_where_to_go_and_everyone_the_notice(edge: EdgeServer, nc: nats.NATS,
                                                                          tokens: TokenKit) -> None:
    ada = await joined_client(edge, tokens.sign(name="Ada"))
    bob = await joined_client(edge, tokens.sign(name="Bob"))
    cy = await joined_client(edge, tokens.sign(name="Cy"))
    waiting = await joined_client(edge, tokens.sign(name="Wes", lobby=True))
    await eventually(lambda: MEETING in edge.node.commands._subs, what="subscribed to the meeting's commands")
    ids = {c: c.joined["participant_id"] for c in (ada, bob, cy)}
    rooms = [wire.BreakoutRoom(room_id="room-1", name="Design"), wire.BreakoutRoom(room_id="room-2", name="Ops")]
    cmd = wire.Breakout(meeting_id=MEETING, by="acct-host", moves=[
        wire.BreakoutMove(participant_id=ids[bob], action="join", room=rooms[0], join=_join("room-1"),
                          ticket="t-bob", ends_at=1767225600.0, main_meeting_id=MEETING),
        wire.BreakoutMove(participant_id=ids[cy], action="choose", rooms=rooms, ticket="t-cy", main_meeting_id=MEETING),
        wire.BreakoutMove(participant_id="someone-on-another-edge", action="choose", rooms=rooms, ticket="t-x")])
    reply = await command(nc, cmd, "breakout")
    assert (reply.ok, reply.edge_id) == (True, "edge-t")

    go = await bob.expect("breakout")
    assert (go["action"], go["room"], go["ticket"], go["ends_at"], go["main_meeting_id"]) == \
        ("join", {"room_id": "room-1", "name": "Design"}, "t-bob", 1767225600.0, MEETING)
    assert go["join"] == _join("room-1") and go["seq"] > 0 and go["re"] is None   # numbered: replayed on a resume
    pick = await cy.expect("breakout")
    assert (pick["action"], pick["join"], pick["ticket"]) == ("choose", None, "t-cy")
    assert [r["name"] for r in pick["rooms"]] == ["Design", "Ops"]

    notice = wire.Notice(meeting_id=MEETING, by="acct-host", text="  Back in five minutes ", sender_name="Hanna")
    assert (await command(nc, notice, "notice")).ok
    for c in (ada, bob, cy):
        shown = await c.expect("notice")
        assert (shown["text"], shown["sender_name"]) == ("Back in five minutes", "Hanna") and shown["at"] > 0
    # Ada was named in no move; the one in the lobby is in no room and hears no notice
    await ada.send({"type": "ping", "id": "sync"})
    await ada.expect("pong")
    assert [m["type"] for m in ada.seen if m["type"] == "breakout"] == []
    await waiting.send({"type": "ping", "id": "sync"})
    await waiting.expect("pong")
    assert {m["type"] for m in waiting.seen} <= {"lobby_waiting", "pong"}


async def test_what_the_edge_refuses(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    ada = await joined_client(edge, tokens.sign(name="Ada"))
    await eventually(lambda: MEETING in edge.node.commands._subs, what="subscribed")
    pid = ada.joined["participant_id"]
    elsewhere = wire.Breakout(meeting_id=MEETING, moves=[wire.BreakoutMove(participant_id="p-other", action="return")])
    assert (await command(nc, elsewhere, "breakout")).error == "not here"   # another edge's participant
    no_answer = wire.Breakout(meeting_id=MEETING, moves=[wire.BreakoutMove(participant_id=pid, action="join")])
    reply = await command(nc, no_answer, "breakout")
    assert not reply.ok and reply.error == "a move to a breakout room needs its join answer"
    nobody = wire.Breakout(meeting_id=MEETING, moves=[])
    assert (await command(nc, nobody, "breakout")).error == "not here"
    blank = await command(nc, wire.Notice(meeting_id=MEETING, text="   "), "notice")
    assert not blank.ok and blank.error == "a notice cannot be empty"
    # a command on another verb's subject is refused, as every command is
    wrong = await command(nc, wire.Notice(meeting_id=MEETING, text="hi"), "breakout")
    assert not wrong.ok and "does not belong on" in wrong.error
    back = wire.Breakout(meeting_id=MEETING, moves=[wire.BreakoutMove(participant_id=pid, action="return",
                                                                      main_meeting_id=MEETING)])
    assert (await command(nc, back, "breakout")).ok                       # already in the main meeting: stop choosing
    got = await ada.expect("breakout")
    assert (got["action"], got["join"], got["room"]) == ("return", None, None)
    assert [m["type"] for m in ada.seen].count("notice") == 0
