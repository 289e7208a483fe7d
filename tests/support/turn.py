"""A real coturn ``turnserver`` owned by one test: its own config, ports and shared secret.

It runs in the foreground (Popen owns the PID) with the shipped ``configs/turnserver.conf``
(``use-auth-secret``), only its addresses, ports, files and secret replaced: the edge hands out
credentials derived from the secret, the server checks them. It listens on the machine's own (non-loopback) address, where browsers and
aioice gather candidates, with plain TURN on one port (UDP and TCP) and, given a certificate,
TURN over TLS on another.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from . import process
from .tls import CertFiles
from .util import free_port

#: The example configuration the tests run (with their own addresses, ports and files).
EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "turnserver.conf"


def turnserver_path() -> str | None:
    return shutil.which("turnserver", path="/usr/bin:/usr/sbin:/bin:/sbin")


def turnserver_available() -> bool:
    return turnserver_path() is not None


def host_address() -> str:
    """This machine's address on its default route (not loopback): where WebRTC stacks gather."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing interface
        address: str = s.getsockname()[0]
    if address.startswith("127."):
        raise RuntimeError("this machine has no non-loopback IPv4 address for the TURN server")
    return address


class Coturn:
    def __init__(self, workdir: Path, secret: str, *, tls: CertFiles | None = None) -> None:
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secret = secret
        self.tls = tls
        self.host = host_address()
        self.port = self._free_both()
        self.tls_port = free_port() if tls else 0
        self.log_path = self.dir / "turnserver.log"
        self.proc = None

    def _free_both(self) -> int:
        """A port free for both TCP and UDP on the host address."""
        for _ in range(50):
            port = free_port()
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((self.host, port))
                return port
            except OSError:
                continue
        raise RuntimeError("no port free for both TCP and UDP")

    def url(self, transport: str) -> str:
        """``turn:`` over *transport* (udp, tcp) or ``turns:`` for ``"tls"``."""
        if transport == "tls":
            return f"turns:{self.host}:{self.tls_port}?transport=tcp"
        return f"turn:{self.host}:{self.port}?transport={transport}"

    def _config(self) -> Path:
        """The shipped ``configs/turnserver.conf`` with this test's addresses, ports, files and secret."""
        ours = {
            "listening-ip": self.host, "relay-ip": self.host, "listening-port": str(self.port),
            "min-port": "40000", "max-port": "49999",
            "userdb": str(self.dir / "turndb"), "pidfile": str(self.dir / "turnserver.pid"),
        }
        if self.tls:
            ours |= {"tls-listening-port": str(self.tls_port), "cert": str(self.tls.cert), "pkey": str(self.tls.key)}
        lines = []
        for line in EXAMPLE.read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            if key in ours or (not self.tls and key in ("tls-listening-port", "cert", "pkey")):
                continue
            lines.append(line)
        lines += [f"{k}={v}" for k, v in ours.items()]
        # the secret as the systemd unit appends it; the edges here are on this machine's own address,
        # which may be a private one (allowed explicitly, as docs/turn.md says for on-premises edges)
        lines += [f"static-auth-secret={self.secret}", f"allowed-peer-ip={self.host}", "verbose"]
        if not self.tls:
            lines.append("no-tls")
        conf = self.dir / "turnserver.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> Coturn:
        binary = turnserver_path()
        if binary is None:
            raise RuntimeError("turnserver not found (apt-get install coturn)")
        self.proc = process.spawn([binary, "-c", str(self._config())], self.log_path)
        process.wait_until_up(self.proc, "turnserver", self.log_path,
                              lambda: process.port_open(self.port, self.host)
                              and (not self.tls_port or process.port_open(self.tls_port, self.host)), timeout)
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        process.stop(self.proc)

    def __enter__(self) -> Coturn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
