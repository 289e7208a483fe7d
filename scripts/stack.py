"""Run the whole stack on embedded defaults: ``./dev up`` (or ``just up``).

Starts the bundled nats-server with JetStream under ``./var/nats``, the control plane on
http://127.0.0.1:8080 (SQLite in ``./var``, signing keys generated in ``./var/keys``) and one edge
on :8081 (``--edges N``: N edge workers, ``python -m edge.workers``, on :8081 and up). Settings
are written to ``./var/*.toml`` on the first run and kept after that, so they can
be edited. The first admin's password is printed once, when the account is created. Ctrl-C (or
SIGTERM) stops the recorder service, the edge, then the control plane, then NATS. A recorder
service (``python -m recorder``) records into ``./var/recordings`` when a host presses Record.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_once(path: Path, text: str) -> None:
    if not path.exists():
        path.write_text(text)


def wait_ready(url: str, proc: subprocess.Popen, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with code {proc.returncode}; see its log above")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{name} did not become ready at {url} within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--var", default=str(ROOT / "var"), help="state directory (default ./var)")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--edge-port", type=int, default=8081)
    parser.add_argument("--nats-port", type=int, default=4222)
    parser.add_argument("--edges", type=int, default=1,
                        help="edge workers (one process each, python -m edge.workers) on ports from --edge-port up")
    args = parser.parse_args()

    var = Path(args.var).resolve()
    (var / "nats").mkdir(parents=True, exist_ok=True)
    edge_ports = [args.edge_port + k for k in range(max(args.edges, 1))]
    for port, what in ((args.nats_port, "NATS"), (args.http_port, "control plane"), *((p, "edge") for p in edge_ports)):
        if not port_free(port):
            raise SystemExit(f"port {port} ({what}) is in use: is the stack already running?")

    nats_url = f"nats://127.0.0.1:{args.nats_port}"
    write_once(var / "nats.conf", f"""# Single-node NATS for the development stack (written by scripts/stack.py).
server_name: dev
listen: 127.0.0.1:{args.nats_port}
jetstream {{
  store_dir: "{var / 'nats'}"
  max_mem: 256MB
  max_file: 2GB
}}
""")
    write_once(var / "control_plane.toml", f"""# Control plane settings for the development stack;
# see configs/control_plane.toml.
public_url = "http://127.0.0.1:{args.http_port}"
[http]
port = {args.http_port}
[nats]
servers = ["{nats_url}"]
[database]
path = "{var / 'control_plane.sqlite3'}"
[keys]
dir = "{var / 'keys'}"
[bootstrap]
admin_password_file = "{var / 'admin-password'}"
[accounts]
allow_registration = true
[recordings]
dir = "{var / 'recordings'}"
[log]
format = "text"
""")
    write_once(var / "edge-1.toml", f"""# Edge settings for the development stack; see configs/edge.toml.
edge_id = "edge-1"
region = "local"
public_url = "ws://127.0.0.1:{args.edge_port}/ws"
[http]
port = {args.edge_port}
[nats]
servers = ["{nats_url}"]
[signaling]
allowed_origins = ["http://127.0.0.1:{args.http_port}", "http://localhost:{args.http_port}"]
[log]
format = "text"
""")

    recorder_port = free_port()
    (var / "recorder.toml").write_text(f"""# Recorder service for the development stack (written by scripts/stack.py
# at every start); see configs/recorder.toml.
recorder_id = "rec-1"
dir = "{var / 'recordings'}"
[http]
port = {recorder_port}
[nats]
servers = ["{nats_url}"]
[log]
format = "text"
""")

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[tuple[str, subprocess.Popen]] = []

    def stop_all(*_: object) -> None:
        for name, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            print(f"stopped {name}", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        nats = subprocess.Popen([str(BIN / "nats-server"), "-c", str(var / "nats.conf")], env=env,
                                stdout=open(var / "nats.log", "ab"), stderr=subprocess.STDOUT)
        procs.append(("nats-server", nats))
        cp = subprocess.Popen([sys.executable, "-m", "control_plane", "--config", str(var / "control_plane.toml")],
                              cwd=ROOT, env=env)
        procs.append(("control plane", cp))
        wait_ready(f"http://127.0.0.1:{args.http_port}/readyz", cp, "control plane")
        if args.edges > 1:
            (var / "edge-machine.toml").write_text(f"""# Edge workers for the development stack (written by
# scripts/stack.py at every start with --edges); see configs/edge-machine.toml.
machine_id = "edge"
workers = {args.edges}
first_port = {args.edge_port}
public_url = "ws://127.0.0.1:{{port}}/ws"
state_dir = "{var / 'workers'}"
[log]
format = "text"
[edge]
region = "local"
[edge.nats]
servers = ["{nats_url}"]
[edge.signaling]
allowed_origins = ["http://127.0.0.1:{args.http_port}", "http://localhost:{args.http_port}"]
[edge.log]
format = "text"
""")
            edge = subprocess.Popen([sys.executable, "-m", "edge.workers", "--config", str(var / "edge-machine.toml")],
                                    cwd=ROOT, env=env)
        else:
            edge = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(var / "edge-1.toml")],
                                    cwd=ROOT, env=env)
        procs.append(("edge" if args.edges <= 1 else f"{args.edges} edge workers", edge))
        for port in edge_ports:
            wait_ready(f"http://127.0.0.1:{port}/readyz", edge, "edge")
        recorder = subprocess.Popen([sys.executable, "-m", "recorder", "--config", str(var / "recorder.toml")],
                                    cwd=ROOT, env=env)
        procs.append(("recorder", recorder))
        wait_ready(f"http://127.0.0.1:{recorder_port}/readyz", recorder, "recorder")

        url = f"http://127.0.0.1:{args.http_port}"
        print("\n" + "=" * 64)
        print(f"  Curious Connect is up: {url}")
        pw_file = var / "admin-password"
        if pw_file.exists():
            print(f"  First admin: admin / {pw_file.read_text().strip()}   (shown once; change it)")
            pw_file.unlink()
        print(f"  Live edges: {url}/api/v1/edges (signed in as an admin)    API docs: {url}/api/docs")
        metrics = [f"{url}/metrics", *(f"http://127.0.0.1:{p}/metrics" for p in edge_ports),
                   f"http://127.0.0.1:{recorder_port}/metrics"]
        print(f"  Metrics (Prometheus): {'  '.join(metrics)}")
        print("  Ctrl-C stops everything.")
        print("=" * 64 + "\n", flush=True)
        while all(p.poll() is None for _, p in procs):
            time.sleep(0.5)
        dead = [name for name, p in procs if p.poll() is not None]
        print(f"{', '.join(dead)} exited; stopping the rest", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stop_all()


if __name__ == "__main__":
    raise SystemExit(main())
