"""A recorder joins like any client but with a hidden seat (``hidden`` and the ``record`` grant in
its token): it receives every track, while nobody sees it in a roster, hears it join or leave,
or counts it as a seat; with nobody else left it goes too."""

from __future__ import annotations

import nats

from tests.edge.edge_support import MEETING, MODERATOR, VIEWER, EdgeServer, TokenKit, joined_client
from tests.edge.test_events import kinds, stream_events
from tests.edge.test_media import MediaClient
from tests.support.util import eventually

RECORDER = {"subscribe": True, "record": True}


async def test_a_recorder_receives_everything_and_nobody_sees_it(edge: EdgeServer, tokens: TokenKit) -> None:
    host = MediaClient(await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host")))
    rec = MediaClient(await joined_client(edge, tokens.sign(name="Recorder", perms=RECORDER, hidden=True)))
    try:
        assert [p["name"] for p in rec.c.joined["roster"]] == ["Host"]  # not even in its own roster
        viewer = await joined_client(edge, tokens.sign(name="Viewer", perms=VIEWER))
        assert [p["name"] for p in viewer.joined["roster"]] == ["Host", "Viewer"]
        await host.c.expect("participant_joined", where=lambda msg: msg["participant"]["name"] == "Viewer")
        meeting = edge.node.conference.meetings[MEETING]
        assert meeting.seats_taken() == 2
        await host.publish()
        await eventually(lambda: rec.decoded("video") >= 10 and rec.decoded("audio") >= 10, timeout=40,
                         interval=0.2, what="the recorder receives the host's audio and video")
        # it may not publish, chat or moderate, whatever else its token says
        await rec.c.send({"type": "chat", "id": "c", "text": "hello"})
        assert (await rec.c.expect("error", re="c"))["code"] == "forbidden"
        # the viewer leaves and is announced; the recorder never was
        await viewer.send({"type": "leave"})
        await host.c.expect("participant_left")
        await viewer.close()
        seen = [msg for msg in host.c.seen if msg.get("type") in ("participant_joined", "participant_left")]
        assert all(msg.get("participant", {}).get("name") != "Recorder" for msg in seen)
        assert rec.id not in {msg.get("participant_id") for msg in seen}
        # the host leaves: nobody is left to record, so the recorder is told and goes
        await host.c.send({"type": "leave"})
        ended = await rec.c.expect("meeting_ended", timeout=10)
        assert ended["reason"] == "empty"
        await rec.c.closed()
        await eventually(lambda: MEETING not in edge.node.conference.meetings, what="the meeting closed here")
    finally:
        for c in (host, rec):
            await c.close()


async def test_hidden_without_the_record_grant_is_an_ordinary_seat(edge: EdgeServer, tokens: TokenKit) -> None:
    host = await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host"))
    sneaky = await joined_client(edge, tokens.sign(name="Sneaky", perms=VIEWER, hidden=True))
    publisher = await joined_client(edge, tokens.sign(name="Pub", perms={**RECORDER, "publish_audio": True},
                                                      hidden=True))
    try:
        names = [p["name"] for p in sneaky.joined["roster"]]
        assert names == ["Host", "Sneaky"]
        assert [p["name"] for p in publisher.joined["roster"]] == ["Host", "Sneaky", "Pub"]  # publishers are seen
        for name in ("Sneaky", "Pub"):
            await host.expect("participant_joined", where=lambda msg, n=name: msg["participant"]["name"] == n)
    finally:
        for c in (host, sneaky, publisher):
            await c.close()


async def test_everyone_is_told_while_a_recorder_is_in_the_meeting(edge: EdgeServer, tokens: TokenKit,
                                                                   nc: nats.NATS) -> None:
    host = await joined_client(edge, tokens.sign(name="Host", perms=MODERATOR, role="host"))
    assert host.joined["meeting"]["recording"] is False
    rec = await joined_client(edge, tokens.sign(name="Recorder", perms=RECORDER, hidden=True))
    viewer = None
    try:
        assert (await host.expect("recording"))["active"] is True
        viewer = await joined_client(edge, tokens.sign(name="Viewer", perms=VIEWER))
        assert viewer.joined["meeting"]["recording"] is True  # a later joiner knows at once
        second = await joined_client(edge, tokens.sign(name="Recorder 2", perms=RECORDER, hidden=True))
        await second.send({"type": "leave"})  # one of two recorders goes: still recording, nothing said
        await rec.send({"type": "leave"})
        assert (await viewer.expect("recording"))["active"] is False
        assert [m["active"] for m in host.seen if m.get("type") == "recording"] == [True, False]
        # the control plane hears of it once each way, and of no recorder joining or leaving
        await eventually(lambda: _has(nc, "recording_stopped"), what="recording_stopped stored")
        events = kinds(await stream_events(nc))
        assert events.count("recording_started") == 1 and events.count("recording_stopped") == 1
        assert events.count("joined") == 2 and "left" not in events  # the host and the viewer; nobody left
    finally:
        for c in (host, rec, viewer):
            if c is not None:
                await c.close()


async def _has(nc: nats.NATS, kind: str) -> bool:
    return kind in kinds(await stream_events(nc))
