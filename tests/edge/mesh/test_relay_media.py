"""Relay peer connections between two forwarding rooms (two edges of one meeting), wired directly
in this process: real aiortc publishers and subscribers over real UDP decode what crosses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from edge.sfu.interfaces import SdpError, SfuConfig, TrackInfo
from edge.sfu.room import Room
from tests.edge.sfu.client import Events, Meeting
from tests.support.util import eventually


class Wire:
    """Carries relay offers and answers between rooms, as the mesh does over NATS."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.states: list[tuple[str, str, str, str]] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task] = set()

    def events(self, edge_id: str) -> WireEvents:
        return WireEvents(self, edge_id)

    def carry(self, sender: str, receiver: str, sdp: str, tracks: dict[str, TrackInfo]) -> None:
        async def go() -> None:
            answer = await self.rooms[receiver].relays.receiving(sender, self.events(receiver)).offer(sdp, tracks)
            relay = self.rooms[sender].relays.out.get(receiver)
            if relay is not None:       # (not closed meanwhile)
                await relay.answer(answer)

        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())


class WireEvents:
    def __init__(self, wire: Wire, edge_id: str) -> None:
        self.wire, self.edge_id = wire, edge_id

    def on_relay_offer(self, edge_id: str, sdp: str, tracks: dict[str, TrackInfo]) -> None:
        self.wire.carry(self.edge_id, edge_id, sdp, tracks)

    def on_relay_state(self, edge_id: str, direction: str, state: str) -> None:
        self.wire.states.append((self.edge_id, edge_id, direction, state))


@pytest.fixture
async def edges() -> AsyncIterator[tuple[Meeting, Meeting, Wire]]:
    wire = Wire()
    made = []
    for name in ("A", "B"):
        events = Events()
        made.append(Meeting(Room(f"room-{name}", events, SfuConfig()), events))
        wire.rooms[name] = made[-1].room
    try:
        yield made[0], made[1], wire
    finally:
        for m in made:
            await m.close()
        assert not wire.errors, wire.errors


async def test_each_track_crosses_once_and_fans_out_on_the_other_edge(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish()
    bob, carol = await b.join("bob"), await b.join("carol")
    tracks = [t.track_id for t in a.room.tracks()]
    relay = a.room.relays.sending("B", wire.events("A"))
    assert sorted(relay.want(tracks)) == sorted(tracks)
    await eventually(lambda: all(c.decoded("video") >= 10 and c.decoded("audio") >= 10 for c in (bob, carol)),
                     timeout=40, interval=0.2, what="bob and carol on edge B decode alice's media from edge A")
    # one relay PC, one transceiver per track, whatever the number of subscribers on B
    assert len(relay.side.pc.getTransceivers()) == 2 and set(relay.side.mids().values()) == set(tracks)
    relayed = {s.track_id: s for s in b.room.sources.values()}
    assert set(relayed) == set(tracks) and {s.via for s in relayed.values()} == {"A"}
    assert {s.info.participant_id for s in relayed.values()} == {"alice"}
    sent0, fanned0 = a.room.stats().extra["relay_bytes_sent"], b.room.stats().bytes_forwarded
    await eventually(lambda: a.room.stats().extra["relay_bytes_sent"] - sent0 > 50_000, timeout=20,
                     what="50 kB more over the relay")
    sent = a.room.stats().extra["relay_bytes_sent"] - sent0
    fanned = b.room.stats().bytes_forwarded - fanned0
    assert 1.6 < fanned / sent < 2.4, (sent, fanned)    # two subscribers on B, one copy on the link
    assert b.room.stats().extra["relays_in"] == 1 and a.room.stats().extra["relayed_streams_out"] == 2
    assert ("A", "B", "out", "connected") in wire.states and ("B", "A", "in", "connected") in wire.states
    # alice's only subscribers are on B: edge A must not tell her to send less than they may use
    adaptation = a.room.adaptation
    assert adaptation is not None
    assert adaptation.publisher_cap(a.room.peers["alice"], adaptation.caps()) is None
    await eventually(lambda: a.room.peers["alice"].remb_cap is None, what="no REMB cap for alice")


async def test_a_late_subscriber_gets_a_keyframe_through_the_relay(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish(audio=False)
    bob = await b.join("bob")
    a.room.relays.sending("B", wire.events("A")).want([t.track_id for t in a.room.tracks()])
    await eventually(lambda: bob.decoded("video") >= 5, timeout=40, interval=0.2, what="bob decodes")
    camera = next(iter(a.room.sources.values()))
    asked = camera.keyframes.requested
    late = await b.join("late")
    await eventually(lambda: late.decoded("video") >= 5, timeout=30, interval=0.2, what="the late joiner decodes")
    assert camera.keyframes.requested > asked   # the request went back over the relay to the publisher's edge


async def test_relayed_audio_levels_make_a_remote_active_speaker(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish(video=False, speaking=True)
    await b.join("bob")
    a.room.relays.sending("B", wire.events("A")).want([t.track_id for t in a.room.tracks()])
    await eventually(lambda: "alice" in b.events.speakers, timeout=30, interval=0.2,
                     what="edge B hears alice as the active speaker from the relayed audio levels")


async def test_relayed_tracks_are_never_relayed_onward_and_unpublishing_reaches_the_other_edge(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish()
    await b.join("bob")
    tracks = [t.track_id for t in a.room.tracks()]
    a.room.relays.sending("B", wire.events("A")).want(tracks)
    await eventually(lambda: len(b.room.sources) == 2 and len(b.room.subscriptions("bob")) == 2, timeout=30,
                     what="relayed and subscribed on B")
    onward = b.room.relays.sending("C", wire.events("B"))
    assert onward.want(tracks) == [] and onward.side.pc is None        # only local-origin tracks leave an edge
    camera = next(t for t in a.room.tracks() if t.kind == "video").track_id
    a.room.peers["alice"].unpublish_source("camera")
    await eventually(lambda: camera not in b.room.sources and camera not in b.room.subscriptions("bob").values(),
                     timeout=20, what="the unpublished camera leaves edge B and its subscriber")
    assert [s.kind for s in b.room.sources.values()] == ["audio"]


async def test_a_bad_relay_offer_is_refused_and_changes_nothing(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish()
    await b.join("bob")
    offers: list[tuple[str, dict]] = []

    class Keep:
        def on_relay_offer(self, edge_id: str, sdp: str, tracks: dict) -> None:
            offers.append((sdp, tracks))

        def on_relay_state(self, *args: str) -> None:
            pass

    a.room.relays.sending("B", Keep()).want([t.track_id for t in a.room.tracks()])
    await eventually(lambda: offers, what="an offer")
    sdp, tracks = offers[0]
    inbound = b.room.relays.receiving("A", wire.events("B"))
    one = dict(list(tracks.items())[:1])
    with pytest.raises(SdpError, match="names no track"):
        await inbound.offer(sdp, one)
    video_mid = next(mid for mid, t in tracks.items() if t.kind == "video")
    wrong = {**tracks, video_mid: TrackInfo(track_id="TR_x", participant_id="alice", kind="audio", source="microphone")}
    with pytest.raises(SdpError, match="sends video but track TR_x is audio"):
        await inbound.offer(sdp, wrong)
    # a track id this edge already has from elsewhere (another edge relays it) is not taken over
    other = TrackInfo(track_id="TR_other", participant_id="carol", kind="video", source="camera")
    b.room.relays.add_source(other, a.room.sources[tracks[video_mid].track_id].codec, via="C")
    with pytest.raises(SdpError, match="TR_other already exists"):
        await inbound.offer(sdp, {**tracks, video_mid: other})
    with pytest.raises(SdpError, match="not SDP"):
        await inbound.offer("hello", tracks)
    assert inbound.pc is None and set(b.room.sources) == {"TR_other"}


async def test_a_restarted_relay_keeps_the_subscribers_of_its_tracks(edges) -> None:
    a, b, wire = edges
    alice = await a.join("alice")
    await alice.publish()
    bob = await b.join("bob")
    tracks = [t.track_id for t in a.room.tracks()]
    a.room.relays.sending("B", wire.events("A")).want(tracks)
    await eventually(lambda: bob.decoded("video") >= 5, timeout=40, interval=0.2, what="bob decodes")
    sources = dict(b.room.sources)
    answers, first_pc = bob.answers, b.room.relays.inbound["A"].pc
    # the relay breaks and is built again (new peer connections on both edges)
    await b.room.relays.close_in("A", keep=True)
    await a.room.relays.close_out("B")
    assert b.room.sources == sources and all(s.origin is None for s in sources.values())
    a.room.relays.sending("B", wire.events("A")).want(tracks)
    await eventually(lambda: b.room.relays.inbound.get("A") is not None and b.room.relays.inbound["A"].state
                     == "connected", timeout=30, what="the new relay is up")
    decoded = bob.decoded("video")
    await eventually(lambda: bob.decoded("video") >= decoded + 10, timeout=30, interval=0.2,
                     what="bob decodes again from the new relay")
    assert b.room.relays.inbound["A"].pc is not first_pc
    assert b.room.sources == sources and bob.answers == answers    # same tracks, no renegotiation for bob
    assert {s.epoch for s in sources.values()} == {2}              # a new origin: a new epoch
    # without keep, the relayed tracks leave the room (and bob's subscribe PC)
    await b.room.relays.close_in("A")
    assert b.room.sources == {}
