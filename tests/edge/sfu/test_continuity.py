"""A subscriber sees one continuous stream when the publisher's connection is rebuilt and it
publishes again; a subscriber's own restart gets a fresh offer."""

from __future__ import annotations

from edge.sfu.interfaces import Grants
from tests.edge.sfu.client import Meeting
from tests.support.util import eventually


def steps(packets: list[tuple[int, int, int, float]]) -> tuple[list[int], list[int]]:
    seq = [(b[1] - a[1]) % 65536 for a, b in zip(packets, packets[1:])]
    ts = [(b[2] - a[2]) % 2**32 for a, b in zip(packets, packets[1:])]
    return seq, ts


async def test_sequence_and_timestamps_stay_continuous_when_the_publisher_publishes_again(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    bob = await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 30 and bob.decoded("audio") >= 30, timeout=10,
                     what="alice's media at bob")
    tracks = sorted(meeting.room.tracks(), key=lambda t: t.kind)
    before = {mid: len(log.packets) for mid, log in bob.rtp.items()}
    frames = bob.decoded("video")

    # alice's network changed: the edge rebuilds her PCs and she publishes again from a new PC
    await meeting.room.restart("alice")
    await alice.publish_pc.close()
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= frames + 30, timeout=10, what="video after the switch")

    assert sorted(meeting.room.tracks(), key=lambda t: t.kind) == tracks  # same tracks, same ids
    assert meeting.events.unpublished == [] and len(meeting.events.published) == 2
    assert len(meeting.events.offers["bob"]) == 1  # bob's PC was not renegotiated
    for mid, log in bob.rtp.items():
        clock = 90000 if bob.received[mid].kind == "video" else 48000
        assert len(log.packets) > before[mid] + 10
        assert len({ssrc for ssrc, *_ in log.packets}) == 1
        seq, ts = steps(log.packets)
        assert seq == [1] * len(seq), f"sequence gaps/jumps on mid {mid}: {sorted(set(seq))}"
        assert max(ts) < 2 * clock, f"timestamp jump on mid {mid}: {max(ts)}"  # no jump, no going back
    for source in meeting.room.sources.values():
        assert source.epoch >= 2  # packets really came from a second origin


async def test_a_subscriber_restart_gets_a_fresh_offer_and_media_again(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    bob = await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10, timeout=10, what="alice's video at bob")

    await meeting.room.restart("bob")
    await bob.subscribe_pc.close()
    bob.subscribe_pc, bob.received, bob.rtp = None, {}, {}
    await eventually(lambda: len(meeting.events.offers["bob"]) == 2, what="a fresh offer")
    await eventually(lambda: bob.decoded("video") >= 10, timeout=10, what="video on bob's new PC")
    assert len(meeting.room.subscriptions("bob")) == 2


async def test_grants_can_be_withdrawn(meeting: Meeting) -> None:
    alice = await meeting.join("alice")
    bob = await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 10, timeout=10, what="alice's video at bob")

    meeting.room.set_grants("alice", Grants(publish=frozenset({"microphone"})))
    assert [t.kind for t in meeting.room.tracks()] == ["audio"]
    assert [t.kind for t in meeting.events.unpublished] == ["video"]
    meeting.room.set_grants("bob", Grants(publish=frozenset(), subscribe=False))
    await eventually(lambda: "a=sendonly" not in meeting.events.offers["bob"][-1]
                     and bob.answers == len(meeting.events.offers["bob"]), what="bob no longer subscribed")
    assert meeting.room.subscriptions("bob") == {}
    assert meeting.room.stats().forwarded_streams == 0
