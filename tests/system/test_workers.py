"""One edge machine, several workers (``python -m edge.workers``): each a full edge node with its
own id and port from one settings file; a meeting whose worker is busy spreads onto the machine's
next worker, which joins its cascade; a killed worker is started again while the others keep
serving; a worker whose port is taken says so and the others run; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.machine import consecutive_ports
from control_plane.placement.choose import Placement
from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.participant import Participant
from tests.support.util import eventually, eventually_sync

ROOT = Path(__file__).resolve().parents[2]


def worker_pid(config_name: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(arg.endswith(config_name.encode()) for arg in cmdline) and b"edge" in cmdline:
                return int(entry.name)
    return None


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def streams(cp: procs.Proc, edge_id: str) -> int:
    return next((e["streams"] for e in procs.live_edges(cp) if e["edge_id"] == edge_id), -1)


async def a_busy_worker_s_meeting_spreads(tmp_path: Path, nats: NatsServer, cp: procs.Proc,
                                          workers: dict[str, int]) -> None:
    """The control plane counts a worker busy from 2 subscriber streams (``placement.busy_streams``):
    the third participant goes to the machine's other worker — not to a less loaded edge of another
    machine — and everyone sees and hears everyone across the two workers. Then that worker is
    killed: only its own participant fails over."""
    admin = procs.admin_headers(cp)
    r = httpx.post(cp.base_url + "/api/v1/meetings", json={"title": "Spread", "allow_guests": True}, headers=admin)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    ann = await Participant.join(cp.base_url, mid, "Ann")
    bob = await Participant.join(cp.base_url, mid, "Bob")
    people = [ann, bob]
    solo = procs.edge(tmp_path, nats.url, "solo", region="local", heartbeat={"interval": 0.5}).start()
    try:
        site = ann.edge.edge_id
        other = next(w for w in workers if w != site)
        assert site in workers and bob.edge.edge_id == site
        await ann.publish()
        await bob.wait_frames(10)
        await eventually(lambda: streams(cp, site) >= 2 and streams(cp, "solo") == 0, timeout=20,
                         what="the site's heartbeat counting Bob's two streams, and the other machine's edge live")
        cy = await Participant.join(cp.base_url, mid, "Cy")
        people.append(cy)
        assert cy.edge.edge_id == other  # the machine's other worker, though "solo" carries nothing
        await cy.publish()
        for p, peer in ((cy, ann), (ann, cy), (bob, cy)):
            await eventually(lambda p=p, peer=peer: p.frames_from(peer.participant_id) >= 10, timeout=40,
                             what=f"{p.name} decoding {peer.name}'s video across the two workers")
        records = [rec for rec in cp.log_records() if rec.get("msg") == "meeting placed"
                   and rec.get("meeting_id") == mid]
        assert records[-1]["sites"] == {"local": site} and records[-1]["overflow"] == {"local": [other]}
        assert Placement(edge_id=site, region="local", epoch=1, sites={"local": site},
                         overflow={"local": [other]}).names(other)
        # Bob, already seated on the busy worker, was not moved
        assert bob.edge.edge_id == site and [w for _, w, _ in bob.history] == ["joined"]

        # The worker comes back before the registry would drop it; the control plane sees a new
        # instance and moves the meeting's overflow edge to where Cy failed over — the other
        # machine's edge or the site, whichever comes first in the meeting's rendezvous order — so
        # that edge is in the meeting's cascade either way.
        old = worker_pid(f"{other}.toml")
        assert old is not None
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        back = await cy.wait_frames(10, since=killed, timeout=40)
        print(f"worker {other} killed: its participant decodes video again after {back - killed:.2f} s "
              f"(on {cy.edge.edge_id}, {cy.history[-1][1]})")
        assert cy.history[-1][1] in ("rejoined", "resumed")
        await ann.wait_frames(10, since=time.monotonic())  # Cy's camera again, from wherever Cy is now
        assert [w for _, w, _ in ann.history] == ["joined"] and [w for _, w, _ in bob.history] == ["joined"]
        await eventually(lambda: worker_pid(f"{other}.toml") not in (None, old) and ready(workers[other]),
                         timeout=40, what="the killed worker started again")
    finally:
        for p in people:
            await p.close()
        solo.stop()


async def test_a_machine_runs_one_edge_per_worker(tmp_path: Path) -> None:
    nats = NatsServer(tmp_path, name="hub").start()
    cp = procs.control_plane(tmp_path, nats.url, placement={"busy_cpu_pct": 0, "busy_streams": 2}).start()
    first = consecutive_ports(3)
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", first + 2))   # worker 3's port is taken
    blocker.listen()
    (tmp_path / "machine.toml").write_text(procs.toml_dumps({
        "machine_id": "m1", "workers": 3, "first_port": first, "state_dir": str(tmp_path / "workers"),
        "restart_delay": 0.2, "log": {"format": "json"},
        "edge": {"region": "local", "nats": {"servers": [nats.url]}, "heartbeat": {"interval": 0.5},
                 "log": {"format": "json"}}}))
    out = open(tmp_path / "machine.log", "wb")
    sup = subprocess.Popen([sys.executable, "-m", "edge.workers", "--config", str(tmp_path / "machine.toml")],
                           cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        cp.wait_http("/readyz", timeout=30)
        listed = eventually_sync(lambda: sorted((e["edge_id"], e["machine"], e["public_url"])
                                                for e in procs.live_edges(cp)) if len(procs.live_edges(cp)) == 2
                                 else None, timeout=40, what="workers 1 and 2 listed")
        assert listed == [("m1-w1", "m1", f"ws://127.0.0.1:{first}/ws"),
                          ("m1-w2", "m1", f"ws://127.0.0.1:{first + 1}/ws")]
        await a_busy_worker_s_meeting_spreads(tmp_path, nats, cp, {"m1-w1": first, "m1-w2": first + 1})
        def port_taken() -> str | None:
            text = (tmp_path / "machine.log").read_text(errors="replace")
            return text if ("address already in use" in text.lower() and "m1-w3" in text
                            and "worker exited: starting it again" in text) else None
        eventually_sync(port_taken, timeout=30, what="worker 3 saying its port is taken, and started again")

        old = worker_pid("m1-w1.toml")
        assert old is not None
        os.kill(old, signal.SIGKILL)
        eventually_sync(lambda: worker_pid("m1-w1.toml") not in (None, old) and ready(first), timeout=40,
                        what="worker 1 started again")
        assert ready(first + 1)                                   # worker 2 went on meanwhile

        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=40) == 0
        assert worker_pid("m1-w1.toml") is None and worker_pid("m1-w2.toml") is None
        assert not ready(first) and not ready(first + 1)
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        for name in ("m1-w1.toml", "m1-w2.toml", "m1-w3.toml"):
            pid = worker_pid(name)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        blocker.close()
        out.close()
        cp.stop()
        nats.stop()
