"""The edge's own ICE pair relayed by a real coturn (``ice_transport_policy = "relay"``), over TURN
UDP, TCP and TLS: forwarded media still reaches the subscriber, written by the edge's synchronous
send path as TURN ChannelData rather than a task per packet."""

from __future__ import annotations

import struct
import time

import pytest

from edge.sfu import aiortc_hooks as hooks
from edge.sfu.interfaces import SfuConfig
from edge.turn import turn_credential
from tests.edge.conftest import TURN_SECRET
from tests.edge.sfu.client import Meeting
from tests.support.util import eventually

KINDS = {"udp": "turn/udp", "tcp": "turn/tcp", "tls": "turn/tcp"}


@pytest.fixture
def made() -> list[str]:
    """The usernames of the TURN credentials the edge was given, one per peer connection."""
    return []


@pytest.fixture
def sfu_config(request: pytest.FixtureRequest, coturn, made: list[str],  # noqa: ANN001
               monkeypatch: pytest.MonkeyPatch) -> SfuConfig:
    transport = request.param
    monkeypatch.setenv("SSL_CERT_FILE", str(coturn.ca_file))  # turns: verifies the server as a browser does

    def servers() -> tuple[dict, ...]:
        username, credential = turn_credential(TURN_SECRET, "edge-test", int(time.time()) + 600)
        made.append(username)
        return ({"urls": coturn.url(transport), "username": username, "credential": credential},)

    return SfuConfig(turn_servers=servers, ice_transport_policy="relay")


@pytest.mark.parametrize("sfu_config", ["udp", "tcp", "tls"], indirect=True)
async def test_media_reaches_a_subscriber_when_the_edges_own_pair_is_relayed(
        meeting: Meeting, sfu_config: SfuConfig, made: list[str], coturn,  # noqa: ANN001
        request: pytest.FixtureRequest) -> None:
    alice, bob = await meeting.join("alice"), await meeting.join("bob")
    await alice.publish()
    await eventually(lambda: bob.decoded("video") >= 30 and bob.decoded("audio") >= 30, timeout=60, interval=0.2,
                     what="bob decodes audio and video relayed by the edge's TURN server")
    assert bob.decoded("video") >= 30 and alice.decoded("video") == 0

    peer = meeting.room.peers["bob"]
    dtls = peer.subscriber.pc.getTransceivers()[0].sender.transport
    pair = dtls.transport._connection._nominated[1]
    assert pair.local_candidate.type == "relay"                       # the edge really is relayed
    path = hooks.send_path(dtls)
    transport = pair.protocol.transport
    assert coturn_transport(pair) == request.node.callspec.params["sfu_config"]
    assert path is not None and path.kind == KINDS[coturn_transport(pair)]
    assert peer.egress.errors == 0 and peer.egress.sent_packets >= 60
    assert len(made) >= 2 and all(u.endswith(":edge-test") for u in made)  # made afresh for each PC

    # Once the channel is bound, a packet is framed and written at once: aioice starts no task.
    tasks = transport.__dict__["_TurnTransport__send_tasks"]
    await eventually(lambda: not tasks, what="aioice's own sends are done")
    rtp = struct.pack("!BBHII", 0x80, 96, 1, 0, 0x5EED) + bytes(20)  # an SSRC bob does not know: ignored
    path.sendto(path.protect(rtp), path.addr)
    assert not tasks
    assert "edge-test" in coturn.log_text()


def coturn_transport(pair) -> str:  # noqa: ANN001
    """udp, tcp or tls: how the edge's relayed candidate reaches its TURN server."""
    inner = pair.protocol.transport.__dict__["_TurnTransport__inner_protocol"]
    if repr(inner) == "turn/udp":
        return "udp"
    return "tls" if inner.transport.get_extra_info("sslcontext") is not None else "tcp"
