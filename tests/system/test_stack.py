"""The one-command stack (``./dev up`` → scripts/stack.py) comes up, lists its edge, stops cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.util import eventually_sync, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_stack_up_lists_one_edge_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    http, edge, nats = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "scripts/stack.py", "--var", str(tmp_path / "var"), "--http-port", str(http),
         "--edge-port", str(edge), "--nats-port", str(nats)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(out)
        assert f"Curious Connect is up: http://127.0.0.1:{http}" in text, text
        metrics = re.search(r"Metrics \(Prometheus\): (.*)", text)
        assert metrics and f"http://127.0.0.1:{http}/metrics" in metrics[1].split(), text
        for metrics_url in metrics[1].split():   # the control plane's, the edge's, the recorder's
            assert "cc_build_info" in httpx.get(metrics_url, timeout=5).text, metrics_url
        first_admin = re.search(r"First admin: admin / (\S{12,})", text)
        assert first_admin, text
        base = f"http://127.0.0.1:{http}"
        assert httpx.get(base + "/api/v1/edges", timeout=5).status_code == 401  # topology is for admins
        token = httpx.post(base + "/api/v1/auth/token", json={"username": "admin", "password": first_admin[1]},
                           timeout=10).json()["token"]

        def listed() -> list[dict]:
            return httpx.get(base + "/api/v1/edges", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        edges = eventually_sync(listed, timeout=10, what="the edge listed")  # its first heartbeat may be in flight
        assert [e["edge_id"] for e in edges] == ["edge-1"]
        assert edges[0]["public_url"] == f"ws://127.0.0.1:{edge}/ws"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=40)
        assert proc.returncode == 0, rest
        assert "stopped edge" in rest and "stopped control plane" in rest and "stopped nats-server" in rest
        assert not (tmp_path / "var" / "admin-password").exists()  # shown once, not kept
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A second start keeps the accounts: no new admin password is printed.
    proc2 = subprocess.Popen(
        [sys.executable, "scripts/stack.py", "--var", str(tmp_path / "var"), "--http-port", str(http),
         "--edge-port", str(edge), "--nats-port", str(nats)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc2.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert "Curious Connect is up" in "".join(lines) and "First admin" not in "".join(lines)
        proc2.send_signal(signal.SIGINT)
        proc2.communicate(timeout=40)
    finally:
        if proc2.poll() is None:
            proc2.kill()
