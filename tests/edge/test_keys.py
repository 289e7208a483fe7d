"""Join-token keys: from a JWKS file, or from the control plane over NATS (``cc.cp.jwks``) at start
and again — rate-limited — when a token names an unknown key."""

from __future__ import annotations

import json
from pathlib import Path

import nats
import pytest

from nodes import subjects, wire
from tests.edge.edge_support import MEETING, Client, TokenKit, joined_client
from tests.support import procs
from tests.support.util import eventually, eventually_sync


class JwksResponder:
    """Answers ``cc.cp.jwks`` like the control plane, with the keys it is given."""

    def __init__(self, nc: nats.NATS, *kits: TokenKit) -> None:
        self.nc = nc
        self.kits = list(kits)
        self.requests = 0

    async def start(self) -> JwksResponder:
        async def answer(msg) -> None:  # noqa: ANN001
            self.requests += 1
            await msg.respond(wire.encode(wire.JwksReply(keys=[k.jwk() for k in self.kits])))
        await self.nc.subscribe(subjects.JWKS, cb=answer)
        await self.nc.flush()   # twice: nats-py may write the first PING ahead of the pending SUB
        await self.nc.flush()
        return self


async def test_keys_come_from_the_control_plane_when_it_answers(make_edge, nc: nats.NATS, tokens: TokenKit) -> None:
    async with make_edge(auth={"jwks_file": ""}) as edge:
        c = await Client.open(edge.ws_url())
        await c.send({"type": "join", "token": tokens.sign(), "meeting_id": MEETING})
        assert "no public key" in (await c.error("unknown_key"))["message"]      # nobody answers yet
        responder = await JwksResponder(nc, tokens).start()
        await eventually(lambda: tokens.kid in edge.node.keys.keyset, timeout=10, what="keys fetched over NATS")
        assert (await (await Client.open(edge.ws_url())).join(tokens.sign()))["type"] == "joined"
        assert responder.requests >= 1


async def test_an_unknown_kid_refreshes_the_keys_at_most_every_interval(make_edge, nc: nats.NATS,
                                                                       tokens: TokenKit) -> None:
    responder = await JwksResponder(nc, tokens).start()
    async with make_edge(auth={"jwks_file": "", "refresh_interval": 10.0}) as edge:
        await eventually(lambda: tokens.kid in edge.node.keys.keyset, timeout=10, what="keys at start")
        await joined_client(edge, tokens.sign(name="Ada"))
        at_start = responder.requests
        rotated = TokenKit()
        responder.kits.append(rotated)                          # the control plane rotates its key
        b = await joined_client(edge, rotated.sign(name="Bob"))   # unknown kid → one refresh → accepted
        assert b.joined["name"] == "Bob" and responder.requests == at_start + 1
        for _ in range(5):                                     # a flood of unknown kids: no more requests
            c = await Client.open(edge.ws_url())
            await c.send({"type": "join", "token": TokenKit().sign(), "meeting_id": MEETING})
            await c.error("unknown_key")
            assert (await c.closed())[0] == 4001
        assert responder.requests == at_start + 1


async def test_a_rotated_jwks_file_is_read_again(make_edge, tmp_path: Path, tokens: TokenKit) -> None:
    path = tokens.write(tmp_path / "rotating.json")
    async with make_edge(auth={"jwks_file": str(path)}) as edge:
        rotated = TokenKit()
        path.write_text(json.dumps({"keys": [tokens.jwk(), rotated.jwk()]}))
        assert (await (await Client.open(edge.ws_url())).join(rotated.sign()))["type"] == "joined"
        assert edge.node.keys.fetches == 1


@pytest.mark.allow_errors(r"cannot load join-token keys", r"Application startup failed", r"start-up failed",
                          reason="the edge refuses to start, and says why")
def test_an_unreadable_jwks_file_stops_the_edge_at_start(tmp_path: Path, nats_server) -> None:
    bad = tmp_path / "missing.json"
    edge = procs.edge(tmp_path, nats_server.url, "edge-k", auth={"jwks_file": str(bad)}).start()
    try:
        code = eventually_sync(lambda: edge.proc.poll() is not None and [edge.proc.returncode], timeout=20,
                               what="edge exits")
        assert code != [0]
        assert f"{bad}: cannot load join-token keys" in edge.log()
    finally:
        edge.kill()
