"""``python -m edge.workers --config FILE``: every core of an edge machine, one edge node per core.

A Python process forwards on one core. An edge machine therefore runs several **workers**, each a
full edge node (``python -m edge``) with its own id, port and NATS identity, all configured from
one file (``configs/edge-machine.toml``)::

    machine_id = "eu-1"          # workers are eu-1-w1 … eu-1-wN
    workers = 0                  # 0: one per core
    first_port = 8081            # worker k listens on first_port + k - 1
    public_url = "wss://eu-1.example.org/w{worker}/ws"   # {worker}, {port}, {edge_id} are filled in
    nats_password_dir = "/etc/curious-connect/nats"      # worker k's password: <dir>/edge-<id>.password
    [edge]                       # every other edge setting, as in configs/edge.toml
    region = "eu"

For worker *k* the supervisor writes ``<state dir>/<id>.toml`` — the ``[edge]`` settings with
``edge_id``, ``machine`` (the heartbeat says which machine a worker is on), ``public_url``,
``http.port`` and, for NATS, ``user = "edge-<id>"``, the password file and ``inbox_prefix`` —
and runs it. A worker that exits is started again after ``restart_delay`` seconds, doubling up
to a minute while it keeps failing (a port another process holds: the worker says so in its log,
the others run on). SIGTERM or SIGINT stop every worker (each drains: its participants are told
to move) and then the supervisor. Under systemd it says ``READY=1`` once every worker answers
``/readyz`` (or after 30 s, naming those that do not), and pings the watchdog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import msgspec

from nodes import logs
from nodes.sdnotify import Notifier, watchdog_interval
from nodes.settings import Base, LogSettings, dump_toml

from .settings import Settings as EdgeSettings

log = logging.getLogger("edge.workers")

MAX_RESTART_DELAY = 60.0
READY_POLL = 0.2
#: Seconds the supervisor waits for every worker before it says READY=1 with those that are.
READY_WAIT = 30.0


class MachineSettings(Base, kw_only=True):
    #: Names the machine; worker k's edge id is ``<machine_id>-w<k>``.
    machine_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,56}$")]
    #: How many workers (0: one per core).
    workers: Annotated[int, msgspec.Meta(ge=0, le=256)] = 0
    #: Worker k listens on ``first_port + k - 1``.
    first_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8081
    #: Each worker's signaling URL; ``{worker}``, ``{port}`` and ``{edge_id}`` are filled in.
    public_url: str = "ws://127.0.0.1:{port}/ws"
    #: Where each worker's NATS password is (``edge-<edge id>.password``); "" = none (a loopback
    #: NATS without users).
    nats_password_dir: str = ""
    #: Where the workers' settings files are written.
    state_dir: str = "var/workers"
    #: Seconds before a worker that exited is started again (doubling while it keeps failing).
    restart_delay: float = 1.0
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    #: Every other edge setting, as in configs/edge.toml (``edge_id``, ``public_url`` and
    #: ``http.port`` are the supervisor's to set).
    edge: dict[str, Any] = msgspec.field(default_factory=dict)

    def count(self) -> int:
        return self.workers or os.cpu_count() or 1


def worker_settings(machine: MachineSettings, k: int) -> dict[str, Any]:
    """Worker *k*'s edge settings (a dict for TOML), checked against the edge's own schema."""
    edge_id = f"{machine.machine_id}-w{k}"
    port = machine.first_port + k - 1
    data: dict[str, Any] = {key: value for key, value in machine.edge.items()}
    for key in ("edge_id", "public_url", "machine"):
        if key in data:
            raise ValueError(f"`edge.{key}` is the supervisor's to set")
    data["edge_id"], data["machine"] = edge_id, machine.machine_id
    data["public_url"] = machine.public_url.format(worker=k, port=port, edge_id=edge_id)
    data["http"] = {**data.get("http", {}), "port": port}
    metrics = data.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("port"), int) and metrics["port"]:
        data["metrics"] = {**metrics, "port": metrics["port"] + k - 1}   # worker k: metrics.port + k - 1
    nats = dict(data.get("nats", {}))
    if machine.nats_password_dir:
        nats.setdefault("user", f"edge-{edge_id}")
        nats["password_file"] = str(Path(machine.nats_password_dir) / f"edge-{edge_id}.password")
    nats.setdefault("inbox_prefix", f"_INBOX.{edge_id}")
    data["nats"] = nats
    msgspec.convert(_without_secrets(data), EdgeSettings)  # refuse a bad [edge] now, naming the field
    return data


def _without_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """The settings as the schema sees them before secret files are read."""
    nats = {k: v for k, v in data.get("nats", {}).items() if k != "password_file"}
    return {**data, "nats": nats}


@dataclass
class Worker:
    k: int
    edge_id: str
    port: int
    config: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    delay: float = 1.0
    started_at: float = 0.0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, machine: MachineSettings, config_path: Path) -> None:
        self.machine = machine
        self.config_path = config_path
        self.workers: list[Worker] = []
        self.stopping = False
        state = Path(machine.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        for k in range(1, machine.count() + 1):
            data = worker_settings(machine, k)
            path = state / f"{data['edge_id']}.toml"
            path.write_text(dump_toml(data))
            self.workers.append(Worker(k, data["edge_id"], data["http"]["port"], path, delay=machine.restart_delay))

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        keepers = [loop.create_task(self._keep(w)) for w in self.workers]
        told = loop.create_task(self._tell_systemd())
        log.info("workers started", extra={"machine": self.machine.machine_id, "workers": len(self.workers)})
        await stop.wait()
        self.stopping = True
        log.info("stopping the workers")
        for w in self.workers:
            if w.proc is not None and w.proc.returncode is None:
                w.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*keepers, return_exceptions=True)
        told.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await told
        log.info("stopped")
        return 0

    async def _keep(self, w: Worker) -> None:
        """Run worker *w*, starting it again whenever it exits (unless stopping)."""
        while not self.stopping:
            w.started_at = time.monotonic()
            w.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "edge", "--config", str(w.config),
                                                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
            code = await w.proc.wait()
            w.exits.append(code)
            if self.stopping:
                return
            if time.monotonic() - w.started_at > 30:
                w.delay = self.machine.restart_delay   # it ran a while: a fresh failure
            log.warning("worker exited: starting it again", extra={"edge_id": w.edge_id, "exit_code": code,
                                                                    "retry_in": round(w.delay, 1)})
            w.restarts += 1
            await asyncio.sleep(w.delay)
            w.delay = min(w.delay * 2, MAX_RESTART_DELAY)

    async def _tell_systemd(self) -> None:
        notifier = Notifier.from_env()
        if not notifier.enabled:
            return
        deadline = time.monotonic() + READY_WAIT
        async with httpx.AsyncClient(timeout=1) as http:
            pending = {w.k: w for w in self.workers}
            while pending and time.monotonic() < deadline:
                for k, w in list(pending.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"http://127.0.0.1:{w.port}/readyz")).status_code == 200:
                            del pending[k]
                await asyncio.sleep(READY_POLL)
        ready = len(self.workers) - len(pending)
        if pending:
            log.warning("not every worker is ready", extra={"not_ready": sorted(w.edge_id for w in pending.values())})
        notifier.ready(f"{ready} of {len(self.workers)} workers ready")
        interval = watchdog_interval()
        while interval is not None:
            notifier.watchdog()
            await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-c", required=True, help="the machine's TOML settings file")
    parser.add_argument("--workers", type=int, help="how many workers (overrides the file)")
    args = parser.parse_args(argv)
    try:
        with open(args.config, "rb") as f:
            data = tomllib.load(f)
        if args.workers is not None:
            data["workers"] = args.workers
        machine = msgspec.convert(data, MachineSettings)
        supervisor = Supervisor(machine, Path(args.config))
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError, ValueError) as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    logs.configure(f"edge-machine-{machine.machine_id}", machine.log.level, machine.log.format)
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    sys.exit(main())
