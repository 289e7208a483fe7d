"""Run our own processes (``python -m control_plane`` / ``python -m edge``) as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from nodes.settings import dump_toml

from .util import CHEAP_HASHING, eventually_sync, free_port

ROOT = Path(__file__).resolve().parents[2]

# Every Proc started and not yet checked: tests/conftest.py reads their logs after each test.
_started: list[Proc] = []


#: The settings files our processes read (one writer for the product's and the tests' files).
toml_dumps = dump_toml


class Proc:
    """A control plane or edge process with its config, log and HTTP port."""

    def __init__(self, module: str, workdir: Path, config: dict[str, Any], name: str,
                 env: dict[str, str] | None = None) -> None:
        self.module = module
        self.workdir = Path(workdir)
        self.config = config
        self.name = name
        self.port = config.setdefault("http", {}).setdefault("port", free_port())
        config["http"].setdefault("host", "127.0.0.1")
        self.env = env or {}
        #: A command the process runs under (e.g. ``["prlimit", "--fsize=300000"]``).
        self.wrap: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_path = self.workdir / f"{name}.toml"
        self.log_path = self.workdir / f"{name}.log"
        self.checked_to = self.log_size()   # how far the log has been checked for ERRORs

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        self.config_path.write_text(toml_dumps(self.config))
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen([*self.wrap, sys.executable, "-m", self.module, "--config", str(self.config_path)],
                                     cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=env)
        if self not in _started:
            _started.append(self)
        return self

    def wait_http(self, path: str = "/healthz", timeout: float = 20.0, status: int = 200) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.base_url + path, timeout=1).status_code == status:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not answering {path} with {status} in {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_errors(self, start: int = 0, end: int | None = None) -> list[str]:
        """The ERROR and CRITICAL records, and any raw traceback, in the log between two offsets."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                text = f.read(-1 if end is None else max(0, end - start)).decode(errors="replace")
        except OSError:
            return []
        found: list[str] = []
        raw: list[str] | None = None   # a traceback printed outside the JSON log
        for line in text.splitlines():
            if raw is not None:
                if line.startswith((" ", "\t", "Traceback", "During handling", "The above")) or not line.strip():
                    raw.append(line)
                    continue
                raw.append(line)   # the exception's own line ends it
                found.append("\n".join(raw))
                raw = None
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                if line.startswith("Traceback"):
                    raw = [f"{self.name}: {line}"]
                continue
            if isinstance(rec, dict) and str(rec.get("level", "")).lower() in ("error", "critical"):
                text_ = f"{self.name}: {rec.get('logger', '')}: {rec.get('msg', '')}"
                extra = {k: v for k, v in rec.items() if k not in ("ts", "level", "service", "logger", "msg", "exc")}
                if extra:
                    text_ += f" {json.dumps(extra, default=str)}"
                if rec.get("exc"):
                    text_ += "\n" + str(rec["exc"])
                found.append(text_)
        if raw is not None:
            found.append("\n".join(raw))
        return found

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def mark_logs() -> None:
    """Start the log check here: what the running processes logged so far is not looked at."""
    for p in _started:
        p.checked_to = p.log_size()


def new_log_errors() -> list[str]:
    """ERRORs our processes logged since the last look; forgets the processes that have exited."""
    found: list[str] = []
    for p in list(_started):
        exited = p.proc is None or p.proc.poll() is not None
        try:
            with open(p.log_path, "rb") as f:
                f.seek(p.checked_to)
                chunk = f.read()
        except OSError:
            chunk = b""
        if not exited:
            chunk = chunk[:chunk.rfind(b"\n") + 1]   # a line being written is read next time
        found += p.log_errors(p.checked_to, p.checked_to + len(chunk))
        p.checked_to += len(chunk)
        if exited:
            _started.remove(p)
    return found


def control_plane(workdir: Path, nats_url: str, name: str = "control_plane", **overrides: Any) -> Proc:
    cfg: dict[str, Any] = {
        "public_url": "",
        "nats": {"servers": [nats_url]},
        "database": {"path": str(Path(workdir) / "cp.sqlite3")},
        "keys": {"dir": str(Path(workdir) / "keys")},
        "log": {"level": "INFO", "format": "json"},
        "bootstrap": {"admin_password_file": str(Path(workdir) / f"{name}-admin-password")},
        "accounts": dict(CHEAP_HASHING),
    }
    _merge(cfg, overrides)
    proc = Proc("control_plane", workdir, cfg, name=name)
    if not cfg["public_url"]:
        cfg["public_url"] = proc.base_url
    return proc


def admin_headers(cp: Proc) -> dict[str, str]:
    """A bearer token of *cp*'s first admin (its generated password file), kept for the next call."""
    cached = getattr(cp, "_admin_headers", None)
    if cached is None:
        password = Path(cp.config["bootstrap"]["admin_password_file"]).read_text().strip()
        r = httpx.post(cp.base_url + "/api/v1/auth/token", json={"username": "admin", "password": password},
                       timeout=10)
        r.raise_for_status()
        cached = cp._admin_headers = {"Authorization": f"Bearer {r.json()['token']}"}  # type: ignore[attr-defined]
    return cached


def live_edges(cp: Proc, timeout: float = 3.0) -> list[dict[str, Any]]:
    """``GET /api/v1/edges`` as the first admin: the edges *cp* sees live."""
    r = httpx.get(cp.base_url + "/api/v1/edges", headers=admin_headers(cp), timeout=timeout)
    r.raise_for_status()
    return r.json()


def wait_edges(cp: Proc, *edge_ids: str, timeout: float = 20.0) -> None:
    """Wait until *cp* lists each of *edge_ids* live (an edge's ``/readyz`` says it is up; the
    control plane places meetings on it only once its first heartbeat arrived)."""
    eventually_sync(lambda: set(edge_ids) <= {e["edge_id"] for e in live_edges(cp)} or None, timeout=timeout,
                    what=f"{', '.join(edge_ids)} live in the control plane's registry")


def edge(workdir: Path, nats_url: str, edge_id: str = "edge-1", **overrides: Any) -> Proc:
    cfg: dict[str, Any] = {
        "edge_id": edge_id,
        "nats": {"servers": [nats_url]},
        "log": {"level": "INFO", "format": "json"},
    }
    _merge(cfg, overrides)
    proc = Proc("edge", workdir, cfg, name=f"edge-{edge_id}")
    cfg.setdefault("public_url", f"ws://127.0.0.1:{proc.port}/ws")
    return proc


def recorder(workdir: Path, nats_url: str, recorder_id: str = "rec-1", **overrides: Any) -> Proc:
    """A recorder service (``python -m recorder --config``), writing into ``workdir/recordings``
    unless *overrides* say otherwise (``dir`` must be the control plane's ``recordings.dir``)."""
    cfg: dict[str, Any] = {
        "recorder_id": recorder_id,
        "dir": str(Path(workdir) / "recordings"),
        "nats": {"servers": [nats_url]},
        "log": {"level": "INFO", "format": "json"},
    }
    _merge(cfg, overrides)
    return Proc("recorder", workdir, cfg, name=f"recorder-{recorder_id}")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
