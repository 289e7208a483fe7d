"""Fault drills with real processes (docs/operations.md, Fault drills): nats-server restarted
during a meeting, and the control plane killed with SIGKILL during a meeting. Media flows over
the participants' own UDP paths to the edge, so neither stops it; what NATS carries (events,
heartbeats) is held by its sender and arrives once the path is back."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.participant import Participant
from tests.support.util import eventually


def ready(proc: procs.Proc) -> bool:
    try:
        return httpx.get(proc.base_url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[NatsServer, procs.Proc, procs.Proc]]:
    nats = NatsServer(tmp_path, name="hub").start()
    cp = procs.control_plane(tmp_path, nats.url).start()
    edge = procs.edge(tmp_path, nats.url, "edge-1", heartbeat={"interval": 0.5})
    try:
        cp.wait_http("/readyz", timeout=30)
        edge.start().wait_http("/readyz", timeout=30)
        procs.wait_edges(cp, "edge-1")
        yield nats, cp, edge
    finally:
        edge.stop()
        cp.stop()
        nats.stop()


def meeting(cp: procs.Proc) -> str:
    r = httpx.post(cp.base_url + "/api/v1/meetings", json={"title": "Drill", "allow_guests": True},
                   headers=procs.admin_headers(cp), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def present(cp: procs.Proc, mid: str) -> list[str] | None:
    r = httpx.get(cp.base_url + f"/api/v1/meetings/{mid}/participants", headers=procs.admin_headers(cp), timeout=5)
    return sorted(p["display_name"] for p in r.json()["participants"]) if r.status_code == 200 else None


def left(cp: procs.Proc, mid: str) -> set[str]:
    r = httpx.get(cp.base_url + f"/api/v1/meetings/{mid}/attendance", headers=procs.admin_headers(cp), timeout=5)
    return {a["display_name"] for a in r.json() if a["left_at"] is not None} if r.status_code == 200 else set()


async def test_nats_restarted_during_a_meeting(stack) -> None:  # noqa: ANN001
    """Media never stops; the nodes reconnect once the server is back; an event raised while it was
    down (a participant leaving) reaches the control plane."""
    nats, cp, edge = stack
    mid = meeting(cp)
    ann = await Participant.join(cp.base_url, mid, "Ann")
    bob = await Participant.join(cp.base_url, mid, "Bob")
    dee = await Participant.join(cp.base_url, mid, "Dee")
    people = [ann, bob, dee]
    try:
        await ann.publish()
        await bob.wait_frames(10)
        await eventually(lambda: present(cp, mid) == ["Ann", "Bob", "Dee"], timeout=20, what="the roster")

        nats.stop()
        down = time.monotonic()
        await eventually(lambda: not ready(cp) and not ready(edge), timeout=15, what="both nodes see NATS gone")
        await dee.close()                                   # an event raised while NATS is down
        people.remove(dee)
        await bob.wait_frames(60, since=down, timeout=30)   # media goes on meanwhile

        nats.start()
        back = time.monotonic()
        await eventually(lambda: ready(edge), timeout=20, interval=0.05, what="the edge reconnected")
        edge_s = time.monotonic() - back
        await eventually(lambda: ready(cp), timeout=20, interval=0.05, what="the control plane reconnected")
        cp_s = time.monotonic() - back
        print(f"NATS down {back - down:.1f} s; reconnected after its restart: edge {edge_s:.2f} s, "
              f"control plane {cp_s:.2f} s")
        await eventually(lambda: "Dee" in left(cp, mid) and present(cp, mid) == ["Ann", "Bob"], timeout=20,
                         what="the event of Dee leaving applied after the outage")
        await bob.wait_frames(30, since=time.monotonic())
        assert [w for _, w, _ in bob.history] == ["joined"] and [w for _, w, _ in ann.history] == ["joined"]
    finally:
        for p in people:
            await p.close()


async def test_control_plane_killed_during_a_meeting(stack) -> None:  # noqa: ANN001
    """The meeting goes on; a token issued before the kill still admits; when the control plane is
    back, nothing it had committed is lost and it catches up on the events raised meanwhile."""
    _, cp, _ = stack
    mid = meeting(cp)
    ann = await Participant.join(cp.base_url, mid, "Ann")
    bob = await Participant.join(cp.base_url, mid, "Bob")
    granted = await Participant.grant(cp.base_url, mid, "Cy")   # issued now, used while it is down
    people = [ann, bob]
    try:
        await ann.publish()
        await bob.wait_frames(10)
        await eventually(lambda: present(cp, mid) == ["Ann", "Bob"], timeout=20, what="the roster")

        assert cp.proc is not None
        cp.proc.send_signal(signal.SIGKILL)
        cp.proc.wait()
        killed = time.monotonic()
        cy = await Participant.connect(granted["token"], granted["edge_url"], granted["alternates"])
        people.append(cy)
        await cy.wait_frames(10, since=killed)              # admitted, and sees Ann
        await bob.wait_frames(30, since=killed)             # the meeting went on
        await bob.close()                                   # and an event of leaving, too
        people.remove(bob)

        cp.start().wait_http("/readyz", timeout=30)
        await eventually(lambda: present(cp, mid) == ["Ann", "Cy"] and "Bob" in left(cp, mid), timeout=30,
                         what="the events raised while the control plane was down, applied")
        r = httpx.get(cp.base_url + f"/api/v1/meetings/{mid}", headers=procs.admin_headers(cp), timeout=5)
        assert r.status_code == 200 and r.json()["title"] == "Drill"   # committed before the kill
    finally:
        for p in people:
            await p.close()
