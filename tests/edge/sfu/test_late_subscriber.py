"""A subscriber who joins after several participants publish receives every one of their streams.

Its client answers with aiortc under aiortc's default bundle policy, as the test clients (and
most aiortc applications) do; every stream must reach the receiver of its own m-section."""

from __future__ import annotations

import logging

import pytest
from aiortc import sdp

from tests.edge.sfu.client import Client, Meeting
from tests.support.util import eventually


def by_publisher(meeting: Meeting, client: Client, kind: str) -> dict[str, str]:
    """mid → publisher of each *kind* m-section the client's subscribe PC carries."""
    sources = meeting.room.sources
    return {mid: sources[track].info.participant_id for mid, track in meeting.room.subscriptions(client.id).items()
            if sources[track].kind == kind}


async def test_a_late_subscriber_decodes_every_publishers_video(meeting: Meeting,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiortc.rtcrtpreceiver")
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await bob.publish()
    await eventually(lambda: alice.decoded("video") >= 30 and bob.decoded("video") >= 30, timeout=15,
                     what="alice and bob decode each other's video")

    carol = await meeting.join("carol")  # four tracks to receive from the start
    await eventually(lambda: sorted(by_publisher(meeting, carol, "video").values()) == ["alice", "bob"]
                     and all(carol.received[mid].frames >= 30 for mid in by_publisher(meeting, carol, "video")),
                     timeout=20, what="carol decodes 30 frames of alice's video and 30 of bob's")
    await eventually(lambda: sorted(by_publisher(meeting, carol, "audio").values()) == ["alice", "bob"]
                     and all(carol.received[mid].frames >= 50 for mid in by_publisher(meeting, carol, "audio")),
                     timeout=10, what="carol decodes alice's audio and bob's")

    videos = by_publisher(meeting, carol, "video")
    assert [carol.received[mid].size for mid in videos] == [(640, 480), (640, 480)]
    # each receiver got exactly one stream: the one under the SSRC its m-section announced
    announced = {m.rtp.muxId: m.ssrc[0].ssrc for m in sdp.SessionDescription.parse(
        carol.subscribe_pc.remoteDescription.sdp).media}
    assert {mid: {p[0] for p in log.packets} for mid, log in carol.rtp.items()} == \
        {mid: {ssrc} for mid, ssrc in announced.items()}
    assert sorted(r.kind for r in carol.received.values()) == ["audio", "audio", "video", "video"]
    assert [r.getMessage() for r in caplog.records if "decode" in r.getMessage()] == []
    assert meeting.room.stats().packets_dropped == 0
