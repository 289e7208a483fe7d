"""``curious load`` against a real stack (nats-server, control plane, one edge): three participants
(one publishing, two receiving) for a few seconds, its JSON report and PNG plot; and a run whose
edge is on a host it was not allowed to reach, refused before anything is sent there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import procs
from tests.support.nats import NatsServer

DURATION, GRACE = 6.0, 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[procs.Proc, Path]]:
    workdir = tmp_path_factory.mktemp("load")
    nats = NatsServer(workdir, name="hub").start()
    cp = procs.control_plane(workdir, nats.url).start()
    edge = procs.edge(workdir, nats.url, "edge-1", heartbeat={"interval": 0.5})
    try:
        cp.wait_http("/readyz", timeout=30)
        edge.start().wait_http("/readyz", timeout=30)
        procs.wait_edges(cp, "edge-1")
        yield cp, workdir
    finally:
        edge.stop()
        cp.stop()
        nats.stop()


def curious_load(workdir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(workdir / "config")}  # no operator's token by accident
    for name in ("CURIOUS_URL", "CURIOUS_TOKEN", "CURIOUS_TOKEN_FILE"):
        env.pop(name, None)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "curious", "load", *args], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=DURATION + GRACE + 30)
    return run, time.monotonic() - started


def test_three_participants_report_and_plot(stack: tuple[procs.Proc, Path]) -> None:
    cp, workdir = stack
    token = workdir / "token"
    token.write_text(procs.admin_headers(cp)["Authorization"].removeprefix("Bearer "))
    run, took = curious_load(workdir, "--url", cp.base_url, "--token-file", str(token), "-n", "3",
                             "--publishers", "1", "--ramp", "1", "--duration", str(DURATION), "--grace", str(GRACE),
                             "--out", "run.json")
    assert run.returncode == 0, run.stderr
    # Started as a process (imports included), it ends within its duration and grace.
    assert took < DURATION + GRACE + 10, (took, run.stderr)
    report = json.loads((workdir / "run.json").read_text())
    assert report["participants"] == 3 and report["joined"] == 3 and report["failed"] == 0, report["failures"]
    assert report["join_ms"]["p50"] > 0 and report["join_ms"]["p99"] >= report["join_ms"]["p50"]
    assert report["first_frame_ms"]["p50"] is not None
    subscribers = [p for p in report["per_participant"] if p["role"] == "subscriber"]
    assert len(subscribers) == 2 and all(p["fps_received"] and p["fps_received"] > 0 for p in subscribers), subscribers
    publisher = next(p for p in report["per_participant"] if p["role"] == "publisher")
    assert publisher["fps_sent"] > 5
    assert report["edges_cpu"]["edge-1"]["samples"] >= 1 and report["edges_cpu"]["edge-1"]["mean_pct"] >= 0
    assert report["timeline"] and report["timeline"][-1]["joined"] == 3
    assert any((s["fps_received"]["median"] or 0) > 0 for s in report["timeline"])
    assert (workdir / "run.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "joined 3/3" in run.stderr  # the progress line (plain lines: stderr is not a terminal)
    assert "3/3 joined, 0 failed" in run.stderr


def test_an_edge_on_a_host_not_allowed_is_refused(stack: tuple[procs.Proc, Path]) -> None:
    cp, workdir = stack
    r = httpx.post(cp.base_url + "/api/v1/meetings", json={"title": "Aim", "allow_guests": True},
                   headers=procs.admin_headers(cp), timeout=10)
    assert r.status_code == 201, r.text
    # The control plane given as localhost: its edge's URL (127.0.0.1) is on another host.
    run, took = curious_load(workdir, "--url", f"http://localhost:{cp.port}", "--meeting", r.json()["id"], "-n", "2",
                             "--ramp", "0", "--duration", "20", "--out", "refused.json")
    assert run.returncode == 1, run.stderr
    assert took < 15, took  # every participant refused: the run ends at once, not at its duration
    report = json.loads((workdir / "refused.json").read_text())
    assert report["joined"] == 0 and report["failed"] == 2
    assert all("127.0.0.1, which is not allowed" in f["reason"] for f in report["failures"]), report["failures"]
    assert "not allowed" in run.stderr and "Traceback" not in run.stderr


def test_allowed_hosts() -> None:
    from curious.load.participant import Aim, Refused

    aim = Aim("http://cp.example.org", frozenset({"cp.example.org", "edge-1.example.org"}))
    aim.check_edge("wss://edge-1.example.org/ws")
    for url in ("wss://edge-2.example.org/ws", "https://edge-1.example.org/ws", "ws:///ws"):
        with pytest.raises(Refused):
            aim.check_edge(url)
    assert aim.allows("turn:edge-1.example.org:3478?transport=udp") and aim.allows("stun:cp.example.org")
    assert not aim.allows("stun:stun.l.google.com:19302")


def test_bad_arguments_and_unreachable_control_plane_are_one_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from curious.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for name in ("CURIOUS_URL", "CURIOUS_TOKEN", "CURIOUS_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for args, code, says in ((["--url", "http://127.0.0.1:9/x"], 2, "--url"),
                             (["--url", "http://127.0.0.1:9", "--video", "99999x1"], 2, "--video"),
                             (["--url", "http://127.0.0.1:9", "-n", "2", "--publishers", "3"], 2, "--publishers"),
                             (["--url", "http://127.0.0.1:9", "--duration", "2"], 3, "cannot reach the control plane")):
        assert main(["load", "--meeting", "m", *args]) == code, args
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert not list(tmp_path.glob("*.json"))
