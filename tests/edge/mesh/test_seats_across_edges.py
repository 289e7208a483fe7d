"""One seat per join token across the edges of a meeting, and the entry policy they share."""

from __future__ import annotations

from tests.edge.edge_support import MODERATOR, Client, TokenKit
from tests.edge.mesh.cascade_support import join, same_roster
from tests.support.util import eventually


async def test_the_same_token_on_another_edge_replaces_the_first_seat(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    token = tokens.sign(name="Ada", eid="eu-1", alt=["us-1"])
    first = await Client.open(eu.ws_url())
    await first.join(token)
    await same_roster([mo, first], ["Mo", "Ada"])
    moved = await Client.open(us.ws_url())           # the client fails over with the same token
    assert (await moved.join(token))["type"] == "joined"
    assert await first.closed(timeout=10) == (4013, "replaced: the same join token joined on another edge")
    await same_roster([mo, moved], ["Mo", "Ada"])
    assert [p.name for p in eu.node.conference.meetings["meet-1"].participants.values()] == ["Mo"]


async def test_a_limit_counts_every_edge_and_a_newer_policy_spreads(pair, tokens: TokenKit) -> None:
    eu, us = pair
    limit = {"locked": False, "max_participants": 2, "version": 1000}
    mo = await join(eu, tokens, "Mo", perms=MODERATOR, pol=limit)
    bob = await join(us, tokens, "Bob", pol=limit)
    await same_roster([mo, bob], ["Mo", "Bob"])
    cy = await Client.open(eu.ws_url())
    refused = await cy.join(tokens.sign(name="Cy", eid="eu-1"))
    assert (refused["code"], refused["message"]) == ("meeting_full", "the meeting is full (2 of 2)")
    # a newer policy learnt on one edge (a token issued later) reaches the other through the mesh
    await join(eu, tokens, "Host", role="host", perms=MODERATOR, pol={"locked": True, "max_participants": 10,
                                                                        "version": 2000})
    await eventually(lambda: us.node.conference.book.policy("meet-1").version == 2000, timeout=10,
                     what="us-1 learns the newer policy")
    gus = await Client.open(us.ws_url())
    refused = await gus.join(tokens.sign(name="Gus", eid="us-1", pol=limit))
    assert refused["code"] == "locked"


async def test_a_kicked_token_that_joined_another_edge_first_is_removed_there(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    token = tokens.sign(name="Ada", eid="eu-1", alt=["us-1"])
    ada = await Client.open(eu.ws_url())
    await ada.join(token)
    await same_roster([mo, ada], ["Mo", "Ada"])
    await mo.send({"type": "kick", "id": "k", "participant_id": ada.joined["participant_id"]})
    assert (await ada.closed(timeout=10))[0] == 4010
    # us-1 does not host the meeting yet, so it has not heard of the kick when the token arrives
    assert "meet-1" not in us.node.conference.meetings
    again = await Client.open(us.ws_url())
    assert (await again.join(token))["type"] == "joined"
    kicked = await again.expect("kicked", timeout=10)   # as soon as us-1 hears from eu-1
    assert kicked["reason"] == "this join token was kicked from the meeting"
    assert await again.closed(timeout=10) == (4010, "this join token was kicked from the meeting")
    refused = await Client.open(us.ws_url())
    assert (await refused.join(token))["code"] == "kicked"
