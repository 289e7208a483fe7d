"""The edge registry over a real nats-server, with real control plane and edge processes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from control_plane.edges.registry import EdgeRegistry
from nodes import wire
from tests.support import procs
from tests.support.util import eventually_sync


def edges(cp: procs.Proc) -> list[dict]:
    return procs.live_edges(cp, timeout=2)


def test_registry_expires_after_ttl_with_a_clock() -> None:
    now = [100.0]
    reg = EdgeRegistry(ttl=6.0, clock=lambda: now[0])
    left: list[tuple[str, str]] = []
    reg.on_edge_left(lambda e, why: left.append((e, why)))
    reg.observe(wire.EdgeHeartbeat(edge_id="a", region="eu", public_url="ws://a", cpu_pct=50))
    reg.observe(wire.EdgeHeartbeat(edge_id="b", region="eu", public_url="ws://b", cpu_pct=15))
    reg.observe(wire.EdgeHeartbeat(edge_id="c", region="us", public_url="ws://c", cpu_pct=1))
    assert reg.least_loaded("eu").heartbeat.edge_id == "b"
    assert reg.least_loaded("ap").heartbeat.edge_id == "c"  # no edge in region: any region
    now[0] += 5.9
    reg.observe(wire.EdgeHeartbeat(edge_id="b", region="eu", public_url="ws://b", cpu_pct=15))
    reg.sweep()
    assert left == []
    now[0] += 0.2
    reg.sweep()
    assert sorted(left) == [("a", "expired"), ("c", "expired")]
    assert [e.heartbeat.edge_id for e in reg.live()] == ["b"]


def test_edges_join_and_leave_the_registry(tmp_path: Path, nats_server) -> None:
    cp = procs.control_plane(tmp_path, nats_server.url).start()
    e1 = procs.edge(tmp_path, nats_server.url, "edge-a", region="eu").start()
    e2 = procs.edge(tmp_path, nats_server.url, "edge-b", region="us").start()
    try:
        cp.wait_http("/readyz")
        e1.wait_http("/readyz")
        e2.wait_http("/readyz")
        listed = eventually_sync(lambda: len(edges(cp)) == 2 and edges(cp), timeout=10, what="two edges listed")
        by_id = {e["edge_id"]: e for e in listed}
        assert by_id["edge-a"]["region"] == "eu" and by_id["edge-b"]["region"] == "us"
        assert by_id["edge-a"]["public_url"] == f"ws://127.0.0.1:{e1.port}/ws"

        # SIGKILL: no goodbye; the edge must leave within three heartbeats (~6 s).
        e1.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        eventually_sync(lambda: [e["edge_id"] for e in edges(cp)] == ["edge-b"], timeout=9, interval=0.1,
                        what="killed edge leaves")
        gone_after = time.monotonic() - killed_at
        print(f"SIGKILLed edge left the registry after {gone_after:.2f}s")
        assert gone_after <= 6.5

        # SIGTERM: the edge says goodbye and leaves at once, exiting 0.
        e2.signal(signal.SIGTERM)
        t0 = time.monotonic()
        eventually_sync(lambda: edges(cp) == [], timeout=5, what="stopped edge leaves")
        assert time.monotonic() - t0 < 2.0
        assert e2.proc.wait(10) == 0
    finally:
        for p in (e1, e2, cp):
            p.kill()


def test_cpu_within_one_step_is_a_tie_that_participants_and_tracks_break() -> None:
    reg = EdgeRegistry(ttl=6.0, clock=lambda: 100.0)
    reg.observe(wire.EdgeHeartbeat(edge_id="w1", region="eu", public_url="ws://w1", cpu_pct=3.5, participants=2,
                                   tracks=2))
    reg.observe(wire.EdgeHeartbeat(edge_id="w2", region="eu", public_url="ws://w2", cpu_pct=6.0))
    assert reg.least_loaded("eu").heartbeat.edge_id == "w2"  # 2.5 points of noise do not decide
    reg.observe(wire.EdgeHeartbeat(edge_id="w2", region="eu", public_url="ws://w2", cpu_pct=14.0))
    assert reg.least_loaded("eu").heartbeat.edge_id == "w1"  # a step apart: CPU decides


def test_an_edge_heartbeating_as_a_new_instance_counts_as_having_left() -> None:
    reg = EdgeRegistry(ttl=6.0, clock=lambda: 100.0)
    left: list[tuple[str, str]] = []
    reg.on_edge_left(lambda e, why: left.append((e, why)))
    reg.observe(wire.EdgeHeartbeat(edge_id="w1", region="eu", public_url="ws://w1", started_at=1000.0))
    reg.observe(wire.EdgeHeartbeat(edge_id="w1", region="eu", public_url="ws://w1", started_at=1000.0))
    assert left == []
    reg.observe(wire.EdgeHeartbeat(edge_id="w1", region="eu", public_url="ws://w1", started_at=1007.5))
    assert left == [("w1", "restarted")]
    assert [e.heartbeat.started_at for e in reg.live()] == [1007.5]  # and it is live again
