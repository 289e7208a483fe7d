"""A real PostgreSQL cluster (Debian's ``postgresql`` package) owned by one test or module.

``initdb`` into a fresh private folder under the system's temporary directory, then ``postgres``
on a free loopback port with its unix socket in that folder, trusting local connections. The
server refuses to run as root: run as root, the folder is handed to ``nobody`` and every
PostgreSQL program runs as that user (``setpriv``). Durability settings are turned down
(``fsync = off``): the tests kill control planes, never the server's host.

:meth:`Postgres.stop` is a fast shutdown (``SIGINT``: open sessions are ended, as in a real
outage), :meth:`Postgres.start` again serves the same data; :meth:`Postgres.cleanup` stops it
and removes the folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import process
from .util import free_port, require

#: The unprivileged account PostgreSQL runs as when the tests run as root.
RUN_AS = "nobody"


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with the server in it."""
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "postgres").exists()
             and Path(p, "initdb").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def postgres_available() -> bool:
    if bin_dir() is None:
        return False
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


class Postgres:
    def __init__(self, log_dir: Path) -> None:
        bindir = bin_dir()
        if bindir is None:
            raise RuntimeError("PostgreSQL not found (apt-get install postgresql)")
        self.bin = bindir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="cc-pg-"))
        self.data = self.base / "data"
        self.log_path = Path(log_dir) / f"postgres-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._as: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam(RUN_AS)
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> str:
        run = subprocess.run([*self._as, str(self.bin / tool), *args], capture_output=True, text=True,
                             cwd=self.base, timeout=60)
        if run.returncode != 0:
            raise RuntimeError(f"{tool} failed ({run.returncode}): {run.stdout[-1000:]}{run.stderr[-2000:]}")
        return run.stdout

    def _initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.base}'\nfsync = off\nfull_page_writes = off\n"
                       "max_connections = 60\nshared_buffers = 16MB\nlog_min_messages = warning\n")

    def start(self, timeout: float = 30.0) -> Postgres:
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self.proc = process.spawn([*self._as, str(self.bin / "postgres"), "-D", str(self.data)], self.log_path)
        process.wait_until_up(self.proc, "postgres", self.log_path, self.ready, timeout)
        return self

    def ready(self) -> bool:
        return subprocess.run([*self._as, str(self.bin / "pg_isready"), "-q", "-h", str(self.base), "-p",
                               str(self.port)], cwd=self.base, timeout=10).returncode == 0

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run *statement* with ``psql`` as the superuser; its unaligned output."""
        return self._run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.base), "-p",
                         str(self.port), "-U", "postgres", "-d", database, "-c", statement)

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown: sessions are ended, what was committed stays."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One real PostgreSQL for a test module (import the fixture into the module to use it)."""
    require(postgres_available(), "PostgreSQL (apt-get install postgresql)")
    server = Postgres(tmp_path_factory.mktemp("pg")).start()
    try:
        yield server
    finally:
        server.cleanup()
