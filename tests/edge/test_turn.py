"""TURN credentials: each participant gets its own short-lived username and HMAC in
``joined.ice_servers``, a real coturn (``use-auth-secret``) accepts them over UDP, TCP and TLS and
refuses them once expired or altered, and the shared secret appears in no message at all."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import ssl
import time
from pathlib import Path

import nats
import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from edge.settings import Settings, TurnSettings
from edge.turn import IceServers, turn_credential
from nodes.settings import SettingsError, convert
from tests.edge.conftest import TURN_SECRET
from tests.edge.edge_support import MEETING, Client, EdgeServer, TokenKit, edge_settings, joined_client

URLS = ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp",
        "turns:turn.example.org:443?transport=tcp"]


def test_the_credential_is_the_rest_api_hmac_of_an_expiry_stamped_username() -> None:
    username, credential = turn_credential("k3y", "p-123", 1_900_000_000)
    assert username == "1900000000:p-123"
    expected = base64.b64encode(hmac.new(b"k3y", b"1900000000:p-123", hashlib.sha1).digest()).decode()
    assert credential == expected
    assert turn_credential("other", "p-123", 1_900_000_000)[1] != credential
    assert turn_credential("k3y", "p-124", 1_900_000_000)[1] != credential


def test_each_participant_gets_its_own_credentials_expiring_after_the_ttl() -> None:
    now = 1_800_000_000.7
    servers = IceServers([{"urls": "stun:stun.example.org"},
                          {"urls": "turn:edge-only.example.org", "username": "edge", "credential": "edge-pw"}],
                         turn_urls=URLS, secret="k3y", ttl=600, clock=lambda: now)
    alice, bob = servers("alice"), servers("bob")
    # public STUN servers pass through; the edge's own TURN account (a credential) never does
    assert alice[0] == {"urls": "stun:stun.example.org"}
    assert len(alice) == 2 and "edge-pw" not in repr(alice)
    turn = alice[1]
    assert turn["urls"] == URLS
    assert turn["username"] == "1800000600:alice"
    assert (turn["username"], turn["credential"]) == turn_credential("k3y", "alice", 1_800_000_600)
    assert bob[1]["username"] == "1800000600:bob" and bob[1]["credential"] != turn["credential"]
    assert "k3y" not in repr(servers)
    assert IceServers([{"urls": "stun:s"}])("x") == [{"urls": "stun:s"}]          # no TURN configured
    with pytest.raises(ValueError):
        IceServers([], turn_urls=URLS, secret="")


def _turn(**section: object) -> TurnSettings:
    return convert({"edge_id": "e", "turn": section}, Settings, source="edge.toml").turn


def test_turn_settings_read_the_secret_from_a_file_or_the_environment(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("from-a-file\n")
    assert _turn(urls=URLS, secret_file=str(secret_file)).secret == "from-a-file"
    monkeypatch.setenv("CC_TURN_SECRET", "from-the-env")
    assert _turn(urls=URLS, secret_env="CC_TURN_SECRET").secret == "from-the-env"
    assert _turn().urls == [] and _turn().ttl == 6 * 3600           # no TURN by default


@pytest.mark.parametrize(("section", "field", "words"), [
    ({"urls": URLS}, "$.turn.secret", "shared secret"),
    ({"urls": URLS, "secret": "a", "secret_env": "B"}, "$.turn.secret_env", "only one"),
    ({"urls": URLS, "secret_file": "/nonexistent/turn"}, "$.turn.secret_file", "cannot read"),
    ({"urls": URLS, "secret_env": "CC_TURN_UNSET_VAR"}, "$.turn.secret_env", "not set"),
    ({"urls": ["stun:x.org"], "secret": "a"}, "$.turn.urls", "turn: or turns:"),
    ({"urls": ["turns:x.org:443?transport=udp"], "secret": "a"}, "$.turn.urls", "TLS"),
    ({"urls": ["turn:x.org:99999"], "secret": "a"}, "$.turn.urls", "port"),
    ({"urls": ["turn:x.org?proto=tcp"], "secret": "a"}, "$.turn.urls", "transport"),
    ({"urls": URLS, "secret": "a", "ttl": 5}, "$.turn.ttl", ">= 60"),
    ({"url": URLS}, "$.turn", "unknown field `url`"),
])
def test_bad_turn_settings_are_refused_naming_the_field(section: dict, field: str, words: str) -> None:
    with pytest.raises(SettingsError) as info:
        _turn(**section)
    assert field in str(info.value) and words in str(info.value), str(info.value)


async def _allocate(server: tuple[str, int], username: str, password: str, transport: str,
                    tls: ssl.SSLContext | None = None) -> tuple[str, int]:
    """Allocate a relay on the TURN server with these credentials; return the relayed address."""
    relay, _ = await asyncio.wait_for(create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=server, username=username, password=password,
        transport=transport, ssl=tls), timeout=10)
    try:
        address: tuple[str, int] = relay.get_extra_info("sockname")
        return address
    finally:
        relay.close()


def _refused(exc: BaseException) -> bool:
    """coturn answered 401 Unauthorized."""
    response = getattr(exc, "response", None)
    return isinstance(response, stun.Message) and response.attributes.get("ERROR-CODE", (0,))[0] == 401


async def test_coturn_accepts_the_credentials_an_edge_hands_out_over_udp_tcp_and_tls(
        tmp_path: Path, nats_server, nc: nats.NATS, tokens: TokenKit, coturn,  # noqa: ANN001
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="edge")
    jwks = tokens.write(tmp_path / "jwks.json")
    secret_file = tmp_path / "turn.secret"
    secret_file.write_text(TURN_SECRET + "\n")
    urls = [coturn.url("udp"), coturn.url("tcp"), coturn.url("tls")]
    settings = edge_settings(nats_server.url, jwks_file=str(jwks),
                             turn={"urls": urls, "secret_file": str(secret_file), "ttl": 120},
                             sfu={"ice_servers": [{"urls": f"stun:{coturn.host}:{coturn.port}"}]})
    seen_on_nats: list[bytes] = []

    async def record(msg) -> None:  # noqa: ANN001
        seen_on_nats.append(msg.subject.encode() + b" " + msg.data)

    sub = await nc.subscribe(">", cb=record)
    async with EdgeServer(settings) as edge:
        await edge.node.bus.wait_connected(10)
        before = time.time()
        alice = await joined_client(edge, tokens.sign(name="Alice"))
        bob = await joined_client(edge, tokens.sign(name="Bob"))
        again = alice
        try:
            servers = alice.joined["ice_servers"]
            assert servers[0] == {"urls": f"stun:{coturn.host}:{coturn.port}"}
            turn = servers[1]
            assert turn["urls"] == urls
            expiry, participant = turn["username"].split(":", 1)
            assert participant == alice.joined["participant_id"]
            assert before + 120 - 1 <= int(expiry) <= time.time() + 120
            assert bob.joined["ice_servers"][1]["credential"] != turn["credential"]

            # the real TURN server takes them on every transport
            server = (coturn.host, coturn.port)
            tls = ssl.create_default_context(cafile=str(coturn.ca_file))
            for transport, context, port in (("udp", None, coturn.port), ("tcp", None, coturn.port),
                                             ("tcp", tls, coturn.tls_port)):
                relayed = await _allocate((coturn.host, port), turn["username"], turn["credential"], transport,
                                          context)
                assert relayed[0] == coturn.host and relayed[1] > 0

            # … and refuses them altered (another participant's name) or expired
            for username, credential in (
                    (f"{expiry}:{bob.joined['participant_id']}", turn["credential"]),
                    turn_credential(TURN_SECRET, participant, int(time.time()) - 5)):
                with pytest.raises(Exception) as refused:
                    await _allocate(server, username, credential, "udp")
                assert _refused(refused.value), repr(refused.value)

            # a resume that rebuilds the peer connections carries fresh credentials
            again = await Client.open(edge.ws_url())
            await again.send({"type": "join", "id": "r", "resume_token": alice.joined["resume_token"],
                              "meeting_id": MEETING, "last_seq": alice.last_seq, "restart_media": True})
            resumed = await again.expect("resumed", re="r")
            assert resumed["media_restarted"] is True
            assert resumed["ice_servers"][1]["username"].endswith(":" + participant)
        finally:
            for c in (alice, bob, again):
                await c.close()
        await sub.unsubscribe()
        # The secret went nowhere: not to a client (every message each one received), not on NATS,
        # not in the edge's log.
        texts = [repr(m) for c in (alice, bob, again) for m in c.seen] + [repr(d) for d in seen_on_nats]
        texts += [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
        assert texts and not any(TURN_SECRET in t for t in texts)
        assert "edge-t" in " ".join(texts)  # the capture did see the edge's traffic


async def test_an_edge_without_turn_hands_out_no_credentials(edge: EdgeServer, tokens: TokenKit) -> None:
    c: Client = await joined_client(edge, tokens.sign(name="NoTurn"))
    try:
        assert c.joined["ice_servers"] == []
    finally:
        await c.close()


def test_an_edge_can_relay_its_own_media_with_credentials_it_makes_for_itself() -> None:
    from edge.app import sfu_config

    settings = convert({"edge_id": "eu-1", "sfu": {"ice_transport_policy": "relay"},
                        "turn": {"urls": URLS, "secret": "k3y", "for_edge": True, "ttl": 300}}, Settings)
    config = sfu_config(settings)
    assert config.ice_transport_policy == "relay" and config.turn_servers is not None
    (server,) = config.turn_servers()
    expiry, name = server["username"].split(":", 1)
    assert name == "edge-eu-1" and abs(int(expiry) - (time.time() + 300)) < 5
    assert (server["username"], server["credential"]) == turn_credential("k3y", "edge-eu-1", int(expiry))
    # without for_edge the edge keeps to its host candidates
    assert sfu_config(convert({"edge_id": "e", "turn": {"urls": URLS, "secret": "k3y"}}, Settings)).turn_servers is None
    with pytest.raises(SettingsError, match=r"\$\.sfu\.ice_transport_policy"):
        convert({"edge_id": "e", "sfu": {"ice_transport_policy": "nohost"}}, Settings)
    with pytest.raises(SettingsError, match=r"needs a TURN server .* - at `\$\.sfu`"):
        convert({"edge_id": "e", "sfu": {"ice_transport_policy": "relay"}, "turn": {"urls": URLS, "secret": "k"}},
                Settings)
    relayed = convert({"edge_id": "e", "sfu": {"ice_transport_policy": "relay", "ice_servers": [
        {"urls": ["turn:t.example.org"], "username": "u", "credential": "c"}]}}, Settings)
    assert sfu_config(relayed).ice_servers[0]["username"] == "u"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_quick_turn_benchmark_runs_and_every_packet_arrives() -> None:
    import json
    import subprocess
    import sys

    from tests.support.turn import turnserver_available
    from tests.support.util import require

    require(turnserver_available(), "coturn (apt-get install coturn)")
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "bench/turn.py", "--quick"], cwd=root, capture_output=True, text=True,
                         timeout=100)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    for transport in ("udp", "tcp"):
        for mode in ("edge", "aioice"):
            r = result[f"turn_{transport}"][mode]
            assert r["received"] >= 0.95 and r["cpu_us_per_packet"] > 0, (transport, mode, r)
    assert result["direct_udp"]["received"] >= 0.95
