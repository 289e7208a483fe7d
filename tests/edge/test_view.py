"""The ``view`` message: hidden tracks get nothing, shown ones come back; bad views are refused
naming the field, with nothing changed. Real aiortc peers over the signaling protocol."""

from __future__ import annotations

from typing import Any

from tests.edge.edge_support import MEETING, VIEWER, EdgeServer, TokenKit, joined_client
from tests.edge.test_media import MediaClient
from tests.support.util import eventually


async def _published(pub: MediaClient, sub: MediaClient) -> dict[str, str]:
    await pub.publish()
    tracks = {}
    for _ in range(2):
        msg = await sub.c.expect("track_published", timeout=10)
        tracks[msg["track"]["source"]] = msg["track"]["track_id"]
    await eventually(lambda: sub.decoded("video") >= 5, timeout=40, interval=0.2, what="video flows")
    return tracks


def _downtrack(edge: EdgeServer, participant_id: str, track_id: str) -> Any:
    room = edge.node.conference.meetings[MEETING].room
    return room.peers[participant_id].subscriber.subs[track_id].downtrack


async def test_a_hidden_track_gets_nothing_until_it_is_shown_again(edge: EdgeServer, tokens: TokenKit) -> None:
    pub = MediaClient(await joined_client(edge, tokens.sign(name="Pub")))
    sub = MediaClient(await joined_client(edge, tokens.sign(name="Sub", perms=VIEWER)))
    try:
        tracks = await _published(pub, sub)
        camera = tracks["camera"]
        await sub.c.send({"type": "view", "id": "hide", "hidden": [camera]})
        await sub.c.expect("ok", re="hide")
        dt = _downtrack(edge, sub.id, camera)
        assert dt.target is None
        sent, audio = dt.packets, sub.decoded("audio")
        await eventually(lambda: sub.decoded("audio") >= audio + 50, timeout=20, interval=0.1,
                         what="a second of audio while the camera is hidden")
        assert dt.packets == sent  # not one video packet went out
        await sub.c.send({"type": "view", "id": "show", "tracks": [{"track_id": camera, "width": 320, "height": 240}]})
        await sub.c.expect("ok", re="show")
        video = sub.decoded("video")
        await eventually(lambda: sub.decoded("video") >= video + 10, timeout=20, interval=0.1,
                         what="video again once the track is shown")
        assert dt.target == 0
    finally:
        for c in (pub, sub):
            await c.close()


async def test_a_bad_view_is_refused_naming_the_field_and_changes_nothing(edge: EdgeServer, tokens: TokenKit) -> None:
    pub = MediaClient(await joined_client(edge, tokens.sign(name="Pub")))
    sub = MediaClient(await joined_client(edge, tokens.sign(name="Sub", perms=VIEWER)))
    try:
        tracks = await _published(pub, sub)
        camera, mic = tracks["camera"], tracks["microphone"]
        bad: list[tuple[dict[str, Any], str, str]] = [
            ({"tracks": [{"track_id": camera}, {"track_id": "TR_nope"}]}, "not_found", "tracks[1].track_id"),
            ({"tracks": [{"track_id": mic}], "hidden": [camera, "TR_nope"]}, "not_found", "hidden[1]"),
            ({"tracks": [{"track_id": camera, "width": -1}]}, "invalid", "tracks[0].width"),
            ({"tracks": [{"track_id": camera, "height": 100000}]}, "invalid", "tracks[0].height"),
            ({"tracks": [{"track_id": camera}], "hidden": [camera]}, "invalid", "hidden[0]"),
            ({"hidden": "TR_x"}, "invalid", "hidden"),
        ]
        for i, (fields, code, field) in enumerate(bad):
            await sub.c.send({"type": "view", "id": f"bad{i}", **fields})
            error = await sub.c.expect("error", re=f"bad{i}")
            assert (error["code"], error["field"]) == (code, field), error
        assert _downtrack(edge, sub.id, camera).target == 0  # the camera was never hidden
        video = sub.decoded("video")
        await eventually(lambda: sub.decoded("video") >= video + 10, timeout=20, interval=0.1,
                         what="video still flows")
    finally:
        for c in (pub, sub):
            await c.close()
