"""Raised hands and reactions across two real edges (eu-1, us-1) of one meeting: a hand raised on
one edge is in the other's roster and queue, a moderator on one edge lowers a hand on the other,
and a reaction reaches everyone."""

from __future__ import annotations

from tests.edge.edge_support import MODERATOR, TokenKit
from tests.edge.mesh.cascade_support import join, pid, same_roster


async def test_hands_and_reactions_cross_edges(pair, tokens: TokenKit) -> None:
    eu, us = pair
    mo = await join(eu, tokens, "Mo", perms=MODERATOR)
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([mo, ada, bob], ["Mo", "Ada", "Bob"])

    await bob.send({"type": "hand", "id": "h"})
    await bob.expect("hand", re="h")
    for c in (mo, ada):                                   # eu-1 learns it from us-1's state
        seen = await c.expect("hand", participant_id=pid(bob), timeout=10)
        assert seen["raised"] is True and seen["at"] > 0 and seen["by"] == pid(bob)
    late = await join(eu, tokens, "Late")
    assert {p["name"]: bool(p["hand"]) for p in late.joined["roster"]} == \
        {"Mo": False, "Ada": False, "Bob": True, "Late": False}

    await ada.send({"type": "hand", "participant_id": pid(bob), "raised": False})
    assert "moderators" in (await ada.error("forbidden"))["message"]
    await mo.send({"type": "hand", "id": "low", "participant_id": pid(bob), "raised": False})
    await mo.expect("ok", re="low", timeout=10)           # us-1 applied it
    lowered = await bob.expect("hand", raised=False, timeout=10)
    assert lowered["by"] == pid(mo)
    assert (await ada.expect("hand", participant_id=pid(bob), raised=False, timeout=10))["by"] == pid(mo)

    await bob.send({"type": "react", "reaction": "party"})
    for c in (mo, ada, late, bob):
        got = await c.expect("reaction", timeout=10)
        assert (got["participant_id"], got["reaction"]) == (pid(bob), "party")
