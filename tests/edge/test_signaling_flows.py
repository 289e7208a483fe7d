"""Meeting flows between real WebSocket clients: roster, chat, mute, kick, lobby, promote, end, leave."""

from __future__ import annotations

import secrets
import socket
import time

import pytest
from websockets.asyncio.client import connect

from edge.conference import actions
from tests.edge.edge_support import MEETING, MODERATOR, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


async def three(edge: EdgeServer, tokens: TokenKit) -> tuple[Client, Client, Client]:
    a = await joined_client(edge, tokens.sign(name="Ada", perms=MODERATOR, role="host"))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    c = await joined_client(edge, tokens.sign(name="Cy"))
    return a, b, c


def pid(c: Client) -> str:
    return c.joined["participant_id"]


async def test_join_sends_the_roster_and_tells_the_others(edge: EdgeServer, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada", perms=MODERATOR))
    j = a.joined
    assert j["seq"] == 1 and j["re"] == "j" and j["name"] == "Ada" and j["grants"]["moderate"] is True
    assert j["meeting"]["meeting_id"] == MEETING and j["meeting"]["edge_id"] == edge.settings.edge_id
    assert [p["name"] for p in j["roster"]] == ["Ada"] and j["resume_token"] and j["resume_grace"] == 30.0
    assert j["ice_servers"] == []
    b = await joined_client(edge, tokens.sign(name="Bob"))
    assert [p["name"] for p in b.joined["roster"]] == ["Ada", "Bob"]
    assert b.joined["grants"] == {"publish": ["camera", "microphone", "screen"], "subscribe": True, "chat": True,
                                  "moderate": False, "record": False}
    seen = await a.expect("participant_joined")
    assert seen["participant"]["participant_id"] == pid(b) and seen["participant"]["name"] == "Bob"
    assert seen["seq"] == 2
    assert edge.node.conference.counts() == (1, 2, 0, 0)


async def test_chat_to_everyone_and_in_private(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await b.send({"type": "chat", "id": "m1", "text": "hello all"})
    for who in (a, c):
        msg = await who.expect("chat")
        assert (msg["sender"], msg["sender_name"], msg["text"], msg["to"]) == (pid(b), "Bob", "hello all", "")
        assert msg["message_id"] and msg["at"] > 0 and msg["re"] is None
    echo = await b.expect("chat")
    assert echo["re"] == "m1"                               # the sender's copy confirms the request
    await b.send({"type": "chat", "id": "m2", "text": "psst", "to": pid(a)})
    private = await a.expect("chat", text="psst")
    assert private["to"] == pid(a) and private["sender"] == pid(b)
    assert (await b.expect("chat", text="psst"))["re"] == "m2"
    await c.send({"type": "chat", "text": "after"})
    await c.expect("chat", text="after")
    assert [m["text"] for m in c.seen if m["type"] == "chat"] == ["hello all", "after"]   # c never saw "psst"
    await b.send({"type": "chat", "text": "x", "to": "nobody"})
    assert (await b.error("not_found"))["field"] == "to"


async def test_mute_own_and_by_a_moderator(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await b.send({"type": "mute", "id": "self", "source": "microphone", "muted": True})
    mine = await b.expect("muted")
    assert (mine["participant_id"], mine["source"], mine["muted"], mine["by"], mine["re"]) == \
        (pid(b), "microphone", True, pid(b), "self")
    assert (await c.expect("muted"))["participant_id"] == pid(b)
    await a.send({"type": "mute", "id": "mod", "participant_id": pid(c), "source": "camera"})
    told = await c.expect("muted", source="camera")
    assert told["by"] == pid(a) and told["muted"] is True
    assert (await a.expect("muted", source="camera"))["re"] == "mod"
    await b.expect("muted", source="camera")
    await c.send({"type": "mute", "source": "camera", "muted": False})     # the owner may unmute
    assert (await a.expect("muted", source="camera", muted=False))["by"] == pid(c)
    late = await joined_client(edge, tokens.sign(name="Late"))
    muted = {p["name"]: p["muted"] for p in late.joined["roster"]}
    assert muted == {"Ada": [], "Bob": ["microphone"], "Cy": [], "Late": []}


async def test_kick(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await a.send({"type": "kick", "id": "k", "participant_id": pid(b), "reason": "spam"})
    kicked = await b.expect("kicked")
    assert kicked["by"] == pid(a) and kicked["reason"] == "spam"
    assert await b.closed() == (4010, "spam")
    for who in (a, c):
        left = await who.expect("participant_left")
        assert left["participant_id"] == pid(b) and left["reason"] == "kicked"
    assert (await a.expect("ok"))["re"] == "k"
    await a.send({"type": "kick", "participant_id": pid(a)})
    assert "yourself" in (await a.error("invalid"))["message"]


async def test_lobby_admit_and_deny(edge: EdgeServer, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada", perms=MODERATOR))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    guest = await Client.open(edge.ws_url())
    waiting = await guest.join(tokens.sign(name="Guest", role="guest", lobby=True))
    assert waiting["type"] == "lobby_waiting" and waiting["resume_token"] and waiting["re"] == "j"
    gid = waiting["participant_id"]
    listed = await a.expect("lobby")
    assert [(e["participant_id"], e["name"]) for e in listed["waiting"]] == [(gid, "Guest")]
    await guest.send({"type": "chat", "text": "let me in"})
    await guest.error("in_lobby")                                  # no chat, no media from the lobby
    second_mod = await joined_client(edge, tokens.sign(name="Mo", perms=MODERATOR))
    assert [e["participant_id"] for e in second_mod.joined["lobby"]] == [gid]
    assert [p["name"] for p in second_mod.joined["roster"]] == ["Ada", "Bob", "Mo"]   # guest not in roster
    assert b.joined["lobby"] == []

    await a.send({"type": "admit", "id": "ad", "participant_id": gid})
    assert (await guest.expect("admitted"))["by"] == pid(a)
    inside = await guest.expect("joined")
    assert [p["name"] for p in inside["roster"]] == ["Ada", "Bob", "Mo", "Guest"]
    joined = await b.expect("participant_joined", where=lambda m: m["participant"]["name"] == "Guest")
    assert joined["participant"]["participant_id"] == gid
    assert (await a.expect("lobby"))["waiting"] == []
    await a.send({"type": "admit", "participant_id": gid})
    assert "not waiting in the lobby" in (await a.error("invalid"))["message"]

    other = await Client.open(edge.ws_url())
    oid = (await other.join(tokens.sign(name="Other", role="guest", lobby=True)))["participant_id"]
    assert [e["participant_id"] for e in (await a.expect("lobby"))["waiting"]] == [oid]
    await a.send({"type": "deny", "participant_id": oid, "reason": "not invited"})
    assert (await other.expect("denied"))["reason"] == "not invited"
    assert await other.closed() == (4012, "not invited")
    assert (await a.expect("lobby"))["waiting"] == []
    assert all(m["participant"]["participant_id"] != oid for m in b.seen if m["type"] == "participant_joined")


async def test_promote_gives_the_moderate_grant(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await b.send({"type": "kick", "participant_id": pid(c)})
    await b.error("forbidden")
    await a.send({"type": "promote", "participant_id": pid(b)})
    updated = await c.expect("participant_updated")
    assert updated["participant"]["participant_id"] == pid(b) and updated["participant"]["moderator"] is True
    await b.expect("lobby")                        # a new moderator learns who waits in the lobby
    await b.send({"type": "kick", "id": "now", "participant_id": pid(c)})
    assert (await b.expect("ok"))["re"] == "now"
    assert (await c.closed())[0] == 4010


async def test_a_guest_cannot_be_promoted(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, _c = await three(edge, tokens)
    guest = await joined_client(edge, tokens.sign(name="Gus", role="guest", sub="guest:abc"))
    await a.send({"type": "promote", "id": "p", "participant_id": pid(guest)})
    refused = await a.error("forbidden")
    assert refused["re"] == "p" and refused["field"] == "participant_id"
    assert "a guest cannot be promoted" in refused["message"]
    await guest.send({"type": "kick", "id": "k", "participant_id": pid(b)})
    assert "only moderators" in (await guest.error("forbidden"))["message"]
    await guest.send({"type": "end_meeting", "id": "e"})
    await guest.error("forbidden")
    assert await b.is_open()
    assert not any(m["type"] == "participant_updated" for m in b.seen)


async def test_end_meeting_disconnects_everyone(edge: EdgeServer, tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await a.send({"type": "end_meeting", "reason": "that's all"})
    for who in (a, b, c):
        ended = await who.expect("meeting_ended")
        assert ended["by"] == pid(a) and ended["reason"] == "that's all"
        assert await who.closed() == (4011, "that's all")
    assert edge.node.conference.meetings == {}
    old = await Client.open(edge.ws_url())                  # a token issued before the end cannot reopen it
    await old.send({"type": "join", "token": tokens.sign(iat=int(time.time()) - 10), "meeting_id": MEETING})
    assert "ended" in (await old.error("meeting_ended"))["message"]
    assert await old.is_open()


async def test_leave_and_the_empty_meeting_closes(edge: EdgeServer, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    await b.send({"type": "leave"})
    assert await b.closed() == (1000, "left")
    left = await a.expect("participant_left")
    assert left["participant_id"] == pid(b) and left["reason"] == "left"
    assert edge.node.conference.counts() == (1, 1, 0, 0)
    await a.send({"type": "leave"})
    await a.closed()
    await eventually(lambda: edge.node.conference.meetings == {}, what="meeting closed")
    again = await joined_client(edge, tokens.sign(name="Ada"))       # an emptied meeting can be joined again
    assert [p["name"] for p in again.joined["roster"]] == ["Ada"]


async def test_a_client_that_does_not_read_is_let_go(make_edge, tokens: TokenKit) -> None:
    """Its messages pile up past ``send_queue``: the edge stops writing and the participant waits
    for a resume like after a dropped socket; nobody else is held up."""
    async with make_edge(signaling={"send_queue": 8, "chat_max_chars": 60000}) as edge:
        a = await joined_client(edge, tokens.sign(name="Ada"))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # no autotuned 32 MB buffer
        sock.connect(("127.0.0.1", edge.port))
        slow = Client(await connect(edge.ws_url(), sock=sock, max_queue=1, max_size=None))
        assert (await slow.join(tokens.sign(name="Slow")))["type"] == "joined"
        slow._reader.cancel()                              # from now on it reads nothing
        participant = edge.node.conference.meetings[MEETING].participants[slow.joined["participant_id"]]
        big = secrets.token_urlsafe(44000)[:59000]               # does not compress (permessage-deflate)
        for i in range(600):
            await a.send({"type": "chat", "id": i, "text": big, "to": slow.joined["participant_id"]})
            await a.expect("chat", re=i)                  # Ada keeps up with her own echoes
            if participant.link is None:
                break
        await eventually(lambda: participant.link is None, timeout=10, what="slow client let go")
        assert participant.state == "in"                  # its place is kept for a resume
        await a.send({"type": "chat", "id": "last", "text": "still fine"})
        assert (await a.expect("chat", text="still fine"))["re"] == "last"
        slow.ws.transport.abort()   # gone for good: the server need not wait for it when it stops


async def test_the_active_speaker_is_relayed(edge: EdgeServer, tokens: TokenKit) -> None:
    """What the forwarding room reports through RoomEvents reaches everyone, once per change."""
    a, b, c = await three(edge, tokens)
    meeting = edge.node.conference.meetings[MEETING]
    meeting.on_active_speaker(pid(b))
    meeting.on_active_speaker(pid(b))                    # no change: nothing sent
    meeting.on_active_speaker(None)
    for who in (a, b, c):
        assert (await who.expect("active_speaker"))["participant_id"] == pid(b)
        assert (await who.expect("active_speaker"))["participant_id"] is None
    late = await joined_client(edge, tokens.sign(name="Late"))
    assert late.joined["meeting"]["active_speaker"] is None
    await a.expect("participant_joined", where=lambda m: m["participant"]["name"] == "Late")  # after any other
    assert len([m for m in a.seen if m["type"] == "active_speaker"]) == 2


async def test_raised_hands_in_order_lowered_by_their_owner_or_a_moderator(edge: EdgeServer,
                                                                          tokens: TokenKit) -> None:
    a, b, c = await three(edge, tokens)
    await c.send({"type": "hand", "id": "h1"})
    raised_c = await c.expect("hand", re="h1")
    assert (raised_c["participant_id"], raised_c["raised"], raised_c["by"]) == (pid(c), True, pid(c))
    await b.send({"type": "hand", "raised": True})
    raised_b = await a.expect("hand", participant_id=pid(b))
    assert raised_c["at"] <= raised_b["at"] and (await a.expect("hand", participant_id=pid(c)))["raised"]
    await b.send({"type": "hand", "id": "again"})                   # already raised: nothing changes
    assert (await b.expect("ok"))["re"] == "again"

    # A late joiner sees the raised hands in the roster, with when each went up (the queue's order).
    late = await joined_client(edge, tokens.sign(name="Late"))
    hands = {p["name"]: p["hand"] for p in late.joined["roster"]}
    assert hands["Ada"] == 0 and hands["Late"] == 0 and 0 < hands["Cy"] <= hands["Bob"]

    # Only the owner raises it; only a moderator lowers someone else's.
    await b.send({"type": "hand", "participant_id": pid(c), "raised": True})
    assert "own hand" in (await b.error("forbidden"))["message"]
    await b.send({"type": "hand", "participant_id": pid(c), "raised": False})
    assert "moderators" in (await b.error("forbidden"))["message"]
    await a.send({"type": "hand", "id": "low", "participant_id": pid(c), "raised": False})
    lowered = await c.expect("hand", raised=False)
    assert (lowered["participant_id"], lowered["by"], lowered["at"]) == (pid(c), pid(a), 0)
    assert (await a.expect("hand", raised=False))["re"] == "low"
    await a.send({"type": "hand", "participant_id": "nobody", "raised": False})
    assert (await a.error("not_found"))["field"] == "participant_id"
    await b.send({"type": "hand", "raised": False})                 # her own
    assert (await late.expect("hand", participant_id=pid(b), raised=False))["by"] == pid(b)


async def test_reactions_reach_everyone_a_few_a_second(edge: EdgeServer, tokens: TokenKit,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "REACTION_INTERVAL", 60.0)   # "too soon" whatever the machine's pace
    a, b, _c = await three(edge, tokens)
    await b.send({"type": "react", "id": "r", "reaction": "clap"})
    assert (await b.expect("reaction", re="r"))["participant_id"] == pid(b)
    got = await a.expect("reaction")
    assert (got["participant_id"], got["reaction"]) == (pid(b), "clap") and got["at"] > 0
    await b.send({"type": "react", "reaction": "heart"})            # at once again: too soon
    assert "60 s" in (await b.error("rate_limited"))["message"]
    await a.send({"type": "react", "reaction": "<script>"})
    assert (await a.error("invalid"))["field"] == "reaction"
