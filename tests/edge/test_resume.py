"""Resume: a participant whose socket dropped keeps its place for the grace period; a new socket
with the resume token takes over and gets what it missed. After the grace period it is gone."""

from __future__ import annotations

from tests.edge.edge_support import MEETING, Client, EdgeServer, TokenKit, joined_client
from tests.support.util import eventually


async def drop(c: Client) -> None:
    """The network goes away under the client: no close handshake, the TCP connection just ends."""
    c.ws.transport.abort()


async def test_resume_within_grace_keeps_the_place_and_replays(edge: EdgeServer, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    b = await joined_client(edge, tokens.sign(name="Bob"))
    await a.expect("participant_joined")
    await b.send({"type": "chat", "text": "before"})
    await b.expect("chat", text="before")
    seen_before = b.last_seq
    bid, token = b.joined["participant_id"], b.joined["resume_token"]
    await drop(b)
    p = edge.node.conference.meetings[MEETING].participants[bid]
    await eventually(lambda: p.link is None, what="edge noticed the dropped socket")

    await a.send({"type": "chat", "text": "while you were away"})
    await a.send({"type": "mute", "source": "microphone"})
    c = await joined_client(edge, tokens.sign(name="Cy"))

    b2 = await Client.open(edge.ws_url())
    await b2.send({"type": "join", "id": "r", "resume_token": token, "last_seq": seen_before, "meeting_id": MEETING})
    resumed = await b2.expect("resumed")
    assert resumed["participant_id"] == bid and resumed["re"] == "r" and resumed["complete"] is True
    assert resumed["replayed"] == 3 and resumed["media_restarted"] is False
    replay = [await b2.expect_any(("chat", "muted", "participant_joined")) for _ in range(3)]
    assert [m["type"] for m in replay] == ["chat", "muted", "participant_joined"]
    assert [m["seq"] for m in replay] == [seen_before + 1, seen_before + 2, seen_before + 3]
    assert replay[0]["text"] == "while you were away"
    # the resumed socket works as before, numbering on
    await b2.send({"type": "chat", "id": "after", "text": "back"})
    echo = await b2.expect("chat", text="back")
    assert echo["re"] == "after" and echo["seq"] == seen_before + 4
    assert (await a.expect("chat", text="back"))["sender"] == bid     # a has read everything before it
    # the roster never changed: nobody saw Bob leave or join again
    assert not [m for m in a.seen if m["type"] == "participant_left"]
    assert [m["participant"]["name"] for m in a.seen if m["type"] == "participant_joined"] == ["Bob", "Cy"]
    assert [q["name"] for q in c.joined["roster"]] == ["Ada", "Bob", "Cy"]


async def test_after_the_grace_period_the_participant_is_gone(make_edge, tokens: TokenKit) -> None:
    async with make_edge(signaling={"resume_grace": 0.5}) as edge:
        a = await joined_client(edge, tokens.sign(name="Ada"))
        b = await joined_client(edge, tokens.sign(name="Bob"))
        assert b.joined["resume_grace"] == 0.5
        await drop(b)
        left = await a.expect("participant_left", timeout=5)
        assert left["participant_id"] == b.joined["participant_id"] and left["reason"] == "timeout"
        late = await Client.open(edge.ws_url())
        await late.send({"type": "join", "resume_token": b.joined["resume_token"], "last_seq": b.last_seq})
        err = await late.error("resume_failed")
        assert err["field"] == "resume_token" and "join again" in err["message"]
        assert await late.is_open()                        # not an authentication failure
        again = await late.join(tokens.sign(name="Bob"))    # a fresh join on the same socket
        assert again["participant_id"] != b.joined["participant_id"]


async def test_a_resume_that_missed_too_much_gets_a_full_snapshot(make_edge, tokens: TokenKit) -> None:
    async with make_edge(signaling={"replay_messages": 2}) as edge:
        a = await joined_client(edge, tokens.sign(name="Ada"))
        b = await joined_client(edge, tokens.sign(name="Bob"))
        last = b.last_seq
        await drop(b)
        p = edge.node.conference.meetings[MEETING].participants[b.joined["participant_id"]]
        await eventually(lambda: p.link is None, what="dropped")
        for i in range(4):
            await a.send({"type": "chat", "text": f"m{i}"})
        await a.expect("chat", text="m3")
        b2 = await Client.open(edge.ws_url())
        await b2.send({"type": "join", "resume_token": b.joined["resume_token"], "last_seq": last})
        resumed = await b2.expect("resumed")
        assert resumed["complete"] is False and resumed["replayed"] == 0
        snapshot = await b2.expect("joined")
        assert [q["name"] for q in snapshot["roster"]] == ["Ada", "Bob"] and snapshot["seq"] == last + 5


async def test_resume_takes_over_a_socket_still_open(edge: EdgeServer, tokens: TokenKit) -> None:
    b = await joined_client(edge, tokens.sign(name="Bob"))
    b2 = await Client.open(edge.ws_url())
    await b2.send({"type": "join", "resume_token": b.joined["resume_token"], "last_seq": b.last_seq})
    assert (await b2.expect("resumed"))["replayed"] == 0
    assert await b.closed() == (4013, "replaced by a resumed connection")
    assert await b2.is_open()
    assert len(edge.node.conference.meetings[MEETING].participants) == 1


async def test_resume_refusals(edge: EdgeServer, tokens: TokenKit) -> None:
    b = await joined_client(edge, tokens.sign(name="Bob"))
    c = await Client.open(edge.ws_url())
    await c.send({"type": "join", "resume_token": b.joined["resume_token"], "last_seq": b.last_seq + 10})
    assert (await c.error("invalid"))["field"] == "last_seq"
    await c.send({"type": "join", "resume_token": b.joined["resume_token"], "meeting_id": "another"})
    assert (await c.error("resume_failed"))["field"] == "meeting_id"
    await c.send({"type": "join", "resume_token": "guessed"})
    await c.error("resume_failed")
    assert await c.is_open() and await b.is_open()
