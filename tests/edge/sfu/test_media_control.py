"""A slow subscriber, muting, the active speaker, and cleaning up after participants."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from edge.sfu.interfaces import Grants, SfuConfig
from tests.edge.sfu.client import Meeting
from tests.support.util import eventually


async def frames_over(client, kind: str, seconds: float) -> float:
    start, t0 = client.decoded(kind), time.monotonic()
    await asyncio.sleep(seconds)
    return (client.decoded(kind) - start) / (time.monotonic() - t0)


@pytest.fixture
def sfu_config() -> SfuConfig:
    # without bandwidth adaptation, so a slow subscriber's queue is what copes with it
    # (test_adaptation.py: with it, that subscriber's video is paused instead)
    return SfuConfig(subscriber_queue=32, speaker_interval=0.1, adaptation=False)


async def test_a_slow_subscriber_does_not_stall_the_others(meeting: Meeting) -> None:
    alice, bob, carol = [await meeting.join(n) for n in ("alice", "bob", "carol")]
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10 and carol.decoded("video") >= 10, timeout=10,
                     what="video at bob and carol")

    meeting.room.set_subscriber_bitrate("carol", 16_000)  # far below what alice sends
    slow, fast = meeting.room.peers["carol"].egress, meeting.room.peers["bob"].egress
    await eventually(lambda: slow.dropped >= 100, timeout=10, what="carol's queue overflowing")
    fps = await frames_over(bob, "video", 2.0)
    assert fps >= 20, f"bob decoded only {fps:.1f} fps while carol was slow"
    assert fast.dropped == 0 and fast.max_depth == 0  # bob's packets never even waited
    assert slow.max_depth == 32 and len(slow.queue) <= 32  # carol's queue stayed bounded
    assert meeting.room.stats().packets_dropped == slow.dropped

    meeting.room.set_subscriber_bitrate("carol", None)  # her link recovers: video resumes at a keyframe
    seen = carol.decoded("video")
    await eventually(lambda: carol.decoded("video") >= seen + 20, timeout=10, what="carol's video again")


async def test_muting_a_track_stops_forwarding_it(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10, timeout=10, what="alice's video at bob")
    video = next(t for t in meeting.room.tracks() if t.kind == "video")
    mid = next(m for m, t in meeting.room.subscriptions("bob").items() if t == video.track_id)

    meeting.room.set_track_muted(video.track_id, True)
    assert next(t for t in meeting.room.tracks() if t.kind == "video").muted
    await asyncio.sleep(0.1)  # what was on the wire arrives
    packets, audio = len(bob.rtp[mid].packets), bob.decoded("audio")
    await asyncio.sleep(0.5)
    assert len(bob.rtp[mid].packets) == packets  # nothing more
    assert bob.decoded("audio") > audio + 10  # while audio goes on

    meeting.room.set_track_muted(video.track_id, False)
    frames = bob.decoded("video")
    await eventually(lambda: bob.decoded("video") >= frames + 10, timeout=5, what="video after unmuting")


async def test_the_active_speaker_follows_who_talks(meeting: Meeting) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish(video=False)
    await bob.publish(video=False)
    events = meeting.events
    await asyncio.sleep(0.5)
    assert events.speakers == []  # silence: nobody speaks

    alice.tracks["microphone"].speaking = True
    await eventually(lambda: events.speakers[-1:] == ["alice"], what="alice speaking")
    alice.tracks["microphone"].speaking = False
    bob.tracks["microphone"].speaking = True
    await eventually(lambda: events.speakers[-1:] == ["bob"], what="bob speaking")
    bob.tracks["microphone"].speaking = False
    await eventually(lambda: events.speakers[-1:] == [None], timeout=5, what="silence again")
    assert events.speakers == ["alice", "bob", None]


async def test_removing_participants_leaves_nothing_running(meeting: Meeting) -> None:
    before = asyncio.all_tasks()
    alice, bob, carol = [await meeting.join(n) for n in ("alice", "bob", "carol")]
    await alice.publish()
    await bob.publish(video=False)
    await eventually(lambda: carol.decoded("video") >= 10 and carol.decoded("audio") >= 10, timeout=10,
                     what="media at carol")
    room = meeting.room
    edge_pcs = [pc for p in room.peers.values() for pc in (p.publish_pc, p.subscriber.pc) if pc is not None]

    await room.remove_peer("alice")
    assert {t.participant_id for t in meeting.events.unpublished} == {"alice"}
    assert {t.participant_id for t in room.tracks()} == {"bob"}
    await eventually(lambda: len(room.subscriptions("carol")) == 1, what="carol renegotiated")
    for name in ("bob", "carol"):
        await room.remove_peer(name)
    for client in meeting.clients:
        await client.close()
    meeting.clients.clear()

    stats = room.stats()
    assert (stats.peers, stats.tracks, stats.forwarded_streams) == (0, 0, 0)
    assert stats.packets_forwarded > 0  # what was forwarded is still counted
    assert all(pc.connectionState == "closed" for pc in edge_pcs)
    await eventually(lambda: asyncio.all_tasks() - before - {asyncio.current_task()} == set(), timeout=5,
                     what="no tasks left")
    await eventually(lambda: not [t for t in threading.enumerate() if t.name.endswith("-decoder")],
                     what="no decoder threads left")


async def test_a_receive_only_participant_gets_media_but_cannot_publish(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    viewer = await meeting.join("viewer", Grants(publish=frozenset(), subscribe=True))
    muted = await meeting.join("nosub", Grants(publish=frozenset({"camera"}), subscribe=False))
    await alice.publish()
    await eventually(lambda: viewer.decoded("video") >= 10, timeout=10, what="video at the viewer")
    assert "nosub" not in meeting.events.offers and muted.subscribe_pc is None
