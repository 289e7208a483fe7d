"""A recorder on one edge of a cascaded meeting (eu-1, us-1): the participants on the other edge
are told they are recorded too, and the recorder stays while anyone is left on any edge."""

from __future__ import annotations

from tests.edge.edge_support import MEETING, MODERATOR, TokenKit
from tests.edge.mesh.cascade_support import join, same_roster
from tests.support.util import eventually

RECORDER = {"subscribe": True, "record": True}


async def test_everyone_on_every_edge_knows_the_meeting_is_recorded(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    bob = await join(us, tokens, "Bob")
    await same_roster([mo, bob], ["Mo", "Bob"])
    assert bob.joined["meeting"]["recording"] is False

    rec = await join(eu, tokens, "Recorder", perms=RECORDER, hidden=True)
    assert (await bob.expect("recording", timeout=10))["active"] is True       # told by eu-1's mesh state
    assert (await mo.expect("recording", timeout=10))["active"] is True
    cy = await join(us, tokens, "Cy")
    assert cy.joined["meeting"]["recording"] is True                           # later joiners on us-1 too
    await rec.send({"type": "leave"})
    assert (await bob.expect("recording", timeout=10))["active"] is False
    assert (await cy.expect("recording", timeout=10))["active"] is False

    rec = await join(eu, tokens, "Recorder", perms=RECORDER, hidden=True)
    assert (await bob.expect("recording", timeout=10))["active"] is True
    eu_meeting = eu.node.conference.meetings[MEETING]
    await mo.send({"type": "leave"})
    await eventually(lambda: all(p.hidden for p in eu_meeting.participants.values()), timeout=10,
                     what="Mo gone from eu-1")
    assert any(p.hidden and p.state == "in" for p in eu_meeting.participants.values())   # Bob and Cy are recorded
    for c in (bob, cy):
        await c.send({"type": "leave"})
    ended = await rec.expect("meeting_ended", timeout=15)                    # nobody left on any edge
    assert ended["reason"] == "empty"
