"""/healthz looks at local state only; /readyz follows NATS (and the control plane's database)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.util import eventually_sync, free_port


def status(proc: procs.Proc, path: str) -> int:
    return httpx.get(proc.base_url + path, timeout=2).status_code


def test_ready_only_with_nats(tmp_path: Path) -> None:
    nats_port = free_port()
    url = f"nats://127.0.0.1:{nats_port}"
    cp = procs.control_plane(tmp_path, url).start()
    edge = procs.edge(tmp_path, url, "edge-h").start()
    server = NatsServer(tmp_path, name="late", port=nats_port)
    try:
        for p in (cp, edge):
            p.wait_http("/healthz")
            assert status(p, "/readyz") == 503          # alive, but no NATS yet
        body = httpx.get(cp.base_url + "/readyz").json()
        assert body["checks"] == {"nats": False, "database": True, "placement": False, "events": False}
        server.start()
        for p in (cp, edge):
            eventually_sync(lambda p=p: status(p, "/readyz") == 200, timeout=15, what=f"{p.name} ready")
        server.kill()                                    # NATS goes away: not ready, still alive
        for p in (cp, edge):
            eventually_sync(lambda p=p: status(p, "/readyz") == 503, timeout=15, what=f"{p.name} not ready")
            assert status(p, "/healthz") == 200
    finally:
        for p in (edge, cp):
            p.kill()
        server.stop()
