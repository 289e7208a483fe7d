"""sd_notify: a real edge process tells a datagram socket READY, WATCHDOG and STOPPING."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from nodes.sdnotify import Notifier, watchdog_interval
from tests.support import procs


def recv_until(sock: socket.socket, wanted: str, timeout: float = 20.0) -> list[str]:
    sock.settimeout(timeout)
    seen: list[str] = []
    while True:
        data = sock.recv(4096).decode()
        seen.extend(data.splitlines())
        if wanted in seen:
            return seen


def test_notifier_is_a_no_op_without_socket() -> None:
    n = Notifier.from_env({})
    assert not n.enabled and n.ready() is False


def test_watchdog_interval_is_half_the_timeout() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None  # not us
    assert watchdog_interval({}) is None


def test_edge_process_notifies_ready_watchdog_stopping(tmp_path: Path, nats_server) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    proc = procs.edge(tmp_path, nats_server.url, "sdn")
    proc.env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    proc.start()
    try:
        seen = recv_until(sock, "READY=1")
        assert any(line.startswith("STATUS=") for line in seen)
        recv_until(sock, "WATCHDOG=1", timeout=5)
        recv_until(sock, "WATCHDOG=1", timeout=5)  # keeps pinging
        proc.signal(signal.SIGTERM)
        recv_until(sock, "STOPPING=1", timeout=10)
        assert proc.proc.wait(15) == 0
    finally:
        proc.kill()
        sock.close()
        os.unlink(sock_path)


def test_failed_start_exits_non_zero_without_ready(tmp_path: Path) -> None:
    """The app's lifespan fails (an unreadable key file): no READY, exit code 3, the reason logged."""
    import subprocess
    import sys

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    conf = tmp_path / "edge.toml"
    conf.write_text(f'edge_id = "bad"\n[auth]\njwks_file = "{tmp_path}/missing.json"\n[http]\nport = 0\n')
    try:
        run = subprocess.run([sys.executable, "-m", "edge", "--config", str(conf)], capture_output=True,
                             text=True, timeout=60, env={**os.environ, "NOTIFY_SOCKET": str(sock_path)})
        assert run.returncode == 3
        assert "missing.json" in run.stderr and "start-up failed" in run.stderr
        try:
            data = sock.recv(4096).decode()
        except TimeoutError:
            data = ""
        assert "READY=1" not in data
    finally:
        sock.close()
