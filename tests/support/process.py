"""Starting and stopping the real third-party servers tests depend on (nats-server, slapd, the
OIDC provider): spawn with the output in a log file, wait until it answers, stop it for sure."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def spawn(cmd: Sequence[str], log_path: Path, **popen: object) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT, **popen)  # type: ignore[arg-type]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until_up(proc: subprocess.Popen[bytes], name: str, log_path: Path, ready: Callable[[], bool],
                  timeout: float = 5.0) -> None:
    """Poll *ready* until it is true; raise with the log's tail if the process exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log_path.read_text(errors='replace')[-2000:]}")
        if ready():
            return
        time.sleep(0.02)
    stop(proc)
    raise RuntimeError(f"{name} did not start within {timeout}s: {log_path.read_text(errors='replace')[-2000:]}")


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after *timeout*; always reaps the process."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
