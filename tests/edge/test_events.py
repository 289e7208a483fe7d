"""Events land in the JetStream stream exactly once — also across a NATS outage — and the heartbeat's
load figures come from the conference."""

from __future__ import annotations

from pathlib import Path

import nats
from nats.js.errors import NotFoundError

from edge.events import EventOutbox
from edge.settings import EventsSettings
from nodes import subjects, wire
from nodes.bus import Bus
from nodes.settings import NatsSettings
from nodes.streams import ensure_events_stream
from tests.edge.edge_support import MEETING, MODERATOR, Client, EdgeServer, TokenKit, joined_client
from tests.support.nats import NatsServer
from tests.support.util import eventually


async def stream_events(nc: nats.NATS) -> list[tuple[str, wire._Evt]]:
    js = nc.jetstream()
    info = await js.stream_info(subjects.EVENTS_STREAM)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(subjects.EVENTS_STREAM, seq)
        except NotFoundError:
            continue
        out.append((msg.subject, wire.event_decoder.decode(msg.data)))
    return out


def kinds(events: list[tuple[str, wire._Evt]]) -> list[str]:
    return [subject.rsplit(".", 1)[1] for subject, _ in events]


async def test_a_meeting_s_events_are_stored_once_each(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada", perms=MODERATOR, sub="acct-ada", role="host"))
    guest = await Client.open(edge.ws_url())
    waiting = await guest.join(tokens.sign(name="Gus", lobby=True, role="guest"))
    await a.send({"type": "admit", "participant_id": waiting["participant_id"]})
    await guest.expect("joined")
    await a.send({"type": "mute", "source": "microphone"})
    await a.expect("muted")
    await a.send({"type": "kick", "participant_id": waiting["participant_id"]})
    await guest.expect("kicked")
    await a.expect("participant_left")
    await a.send({"type": "end_meeting", "reason": "done"})
    await a.closed()
    expected = ["started", "joined", "lobby", "joined", "muted", "left", "left", "ended"]
    events = await eventually(lambda: _when(stream_events(nc), lambda ev: len(ev) >= len(expected)), timeout=10,
                              what="events in the stream")
    assert kinds(events) == expected
    assert len({e.event_id for _, e in events}) == len(events)               # each stored once
    assert all(e.meeting_id == MEETING and e.edge_id == "edge-t" for _, e in events)
    assert all(subject == subjects.event("edge-t", MEETING, wire.EVENT_KIND[type(e)]) for subject, e in events)
    joined = events[1][1]
    assert isinstance(joined, wire.ParticipantJoined)
    assert (joined.participant_id, joined.account_id, joined.display_name, joined.role) == \
        (a.joined["participant_id"], "acct-ada", "Ada", "host")
    muted = events[4][1]
    assert isinstance(muted, wire.ParticipantMuted) and (muted.kind, muted.muted) == ("audio", True)
    kicked, ended = events[5][1], events[6][1]
    assert isinstance(kicked, wire.ParticipantLeft) and isinstance(ended, wire.ParticipantLeft)
    assert (kicked.participant_id, kicked.reason, kicked.by) == \
        (waiting["participant_id"], "kicked", a.joined["participant_id"])                  # who, for the audit log
    assert (ended.reason, ended.by) == ("ended", "")
    assert events[7][1].reason == "done"
    assert edge.node.outbox.pending == 0 and edge.node.outbox.dropped == 0


async def _when(coro, ok):  # noqa: ANN001, ANN202
    value = await coro
    return value if ok(value) else None


async def test_an_emptied_meeting_is_not_ended(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    a = await joined_client(edge, tokens.sign(name="Ada"))
    await a.send({"type": "leave"})
    await a.closed()
    events = await eventually(lambda: _when(stream_events(nc), lambda ev: len(ev) >= 3), timeout=15,
                              what="started, joined and left in the stream")
    assert kinds(events) == ["started", "joined", "left"]           # the control plane decides when it ends


async def test_the_same_event_published_twice_is_stored_once(nats_server, nc: nats.NATS) -> None:
    bus = Bus(NatsSettings(servers=[nats_server.url]), name="outbox-test")
    await bus.start()
    await bus.wait_connected(5)
    outbox = EventOutbox(bus, EventsSettings())
    outbox.start()
    try:
        event = wire.ParticipantJoined(meeting_id="m-dup", edge_id="e", participant_id="p")
        outbox.put(event)
        outbox.put(event)           # e.g. a publish whose ack was lost, retried
        await eventually(lambda: outbox.published == 2, timeout=15, what="both publishes acked")
        events = await stream_events(nc)
        assert [e.event_id for _, e in events] == [event.event_id]
    finally:
        await outbox.close()
        await bus.close()


async def test_events_survive_a_nats_outage(tmp_path: Path, make_edge, tokens: TokenKit) -> None:
    """NATS goes away while people join and leave; when it is back every event is stored, once."""
    hub = NatsServer(tmp_path / "hub", name="outage")
    hub.workdir.mkdir()
    hub.start()
    nc = await nats.connect(hub.url)
    await ensure_events_stream(nc.jetstream())
    await nc.close()
    edge = make_edge(nats={"servers": [hub.url]})
    async with edge:
        await edge.node.bus.wait_connected(10)
        a = await joined_client(edge, tokens.sign(name="Ada"))
        await eventually(lambda: edge.node.outbox.published == 2, timeout=15, what="started, joined published")
        hub.stop()
        await eventually(lambda: not edge.node.bus.connected, what="edge saw NATS go")
        b = await joined_client(edge, tokens.sign(name="Bob"))       # joins need no NATS
        await b.send({"type": "leave"})
        await b.closed()
        await a.send({"type": "mute", "source": "camera"})
        await a.expect("muted")
        await eventually(lambda: edge.node.outbox.pending == 3, what="three events held, not lost")
        assert edge.node.outbox.dropped == 0
        hub.start()
        await eventually(lambda: edge.node.outbox.pending == 0, timeout=20, what="outbox emptied")
        nc = await nats.connect(hub.url)
        try:
            events = await stream_events(nc)
        finally:
            await nc.close()
        assert kinds(events) == ["started", "joined", "joined", "left", "muted"]
        assert len({e.event_id for _, e in events}) == 5
    hub.stop()


async def test_heartbeat_load_comes_from_the_conference(edge: EdgeServer, nc: nats.NATS, tokens: TokenKit) -> None:
    beats: list[wire.EdgeHeartbeat] = []

    async def seen(msg):  # noqa: ANN001, ANN202
        beats.append(wire.registry_decoder.decode(msg.data))

    await nc.subscribe(subjects.edge_heartbeat("edge-t"), cb=seen)
    await joined_client(edge, tokens.sign(name="Ada"))
    await joined_client(edge, tokens.sign(name="Bob", mid="meet-2"), meeting="meet-2")
    await joined_client(edge, tokens.sign(name="Cy", mid="meet-2"), meeting="meet-2")
    await eventually(lambda: beats and (beats[-1].meetings, beats[-1].participants) == (2, 3), timeout=5,
                     what="heartbeat with 2 meetings and 3 participants")
