"""Placement decisions (control_plane/placement/choose.py): per-region sites, fallbacks, a gone
home moving with the next epoch, the rendezvous order of alternates — on registry snapshots."""

from __future__ import annotations

import time

import msgspec
import pytest

from control_plane.edges.registry import LiveEdge
from control_plane.placement.choose import (
    Capacity,
    NoEdgeError,
    Placement,
    View,
    alternates,
    decide,
    rehome,
    rendezvous,
    repair,
)
from nodes import wire


def edge(edge_id: str, region: str, cpu: float = 0.0, draining: bool = False) -> LiveEdge:
    return LiveEdge(wire.EdgeHeartbeat(edge_id=edge_id, region=region, public_url=f"ws://{edge_id}/ws", cpu_pct=cpu,
                                       draining=draining), time.monotonic())


def view(*edges: LiveEdge) -> View:
    return View(edges)


def ids(edges: list[LiveEdge]) -> list[str]:
    return [e.heartbeat.edge_id for e in edges]


EU = [edge("eu-1", "eu", 15), edge("eu-2", "eu", 40), edge("eu-3", "eu", 60)]
US = [edge("us-1", "us", 1)]


def test_a_new_meeting_goes_to_the_least_loaded_edge_of_the_region_else_anywhere() -> None:
    d = decide("m1", None, "eu", view(*EU, *US))
    assert d.placement == Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})
    assert ids(d.alternates) == ids(rendezvous("m1", EU[1:]))
    d = decide("m1", None, "ap", view(*EU, *US))  # no edge in "ap": the least loaded anywhere
    assert (d.edge.heartbeat.edge_id, d.placement.sites) == ("us-1", {"us": "us-1"})
    with pytest.raises(NoEdgeError):
        decide("m1", None, "eu", view())
    with pytest.raises(NoEdgeError):  # draining edges take no one
        decide("m1", None, "eu", view(edge("eu-9", "eu", draining=True)))


def test_each_region_gets_its_site_and_keeps_it() -> None:
    placed = Placement(edge_id="eu-2", region="eu", epoch=1, sites={"eu": "eu-2"})
    d = decide("m1", placed, "eu", view(*EU, *US))
    assert d.edge.heartbeat.edge_id == "eu-2" and d.placement == placed  # the site, though eu-1 is less loaded
    d = decide("m1", placed, "us", view(*EU, *US))
    assert d.edge.heartbeat.edge_id == "us-1"
    assert d.placement == Placement(edge_id="eu-2", region="eu", epoch=1, sites={"eu": "eu-2", "us": "us-1"})
    d = decide("m1", d.placement, "ap", view(*EU, *US))  # a region without edges: the home
    assert d.edge.heartbeat.edge_id == "eu-2" and "ap" not in d.placement.sites


def test_a_gone_site_is_replaced_in_rendezvous_order_and_the_home_moves_with_the_next_epoch() -> None:
    placed = Placement(edge_id="us-1", region="us", epoch=3, sites={"us": "us-1", "eu": "eu-1"})
    survivors = EU[1:]
    first = rendezvous("m7", survivors)[0]
    d = decide("m7", placed, "eu", view(*survivors, *US))
    assert d.edge is first and d.placement.epoch == 3 and d.placement.sites["eu"] == first.heartbeat.edge_id
    assert ids(d.alternates) == [e for e in ids(rendezvous("m7", survivors)) if e != ids([first])[0]]

    home_gone = Placement(edge_id="eu-1", region="eu", epoch=3, sites={"eu": "eu-1", "us": "us-1"})
    d = decide("m7", home_gone, "us", view(*survivors, *US))
    assert d.placement == Placement(edge_id=first.heartbeat.edge_id, region="eu", epoch=4,
                                    sites={"eu": first.heartbeat.edge_id, "us": "us-1"})
    assert d.edge.heartbeat.edge_id == "us-1"  # the joiner still goes to its region's site


def test_a_home_whose_region_is_empty_moves_to_another_site_or_for_a_join_anywhere() -> None:
    placed = Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1", "us": "us-1"})
    assert repair("m1", placed, view(*US)) == Placement(edge_id="us-1", region="us", epoch=2, sites={"us": "us-1"})
    alone = Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})
    assert repair("m1", alone, view(*US)) == alone  # a re-home waits for a join ...
    assert rehome("m1", alone, "eu-1", view(*US)) is None
    d = decide("m1", alone, "eu", view(*US))  # ... which takes what there is
    assert (d.edge.heartbeat.edge_id, d.placement.epoch, d.placement.sites) == ("us-1", 2, {"us": "us-1"})
    with pytest.raises(NoEdgeError):
        decide("m1", alone, "eu", view())


def test_a_draining_home_counts_as_gone() -> None:
    placed = Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})
    draining = [edge("eu-1", "eu", draining=True), *EU[1:]]
    d = decide("m1", placed, "eu", view(*draining))
    assert d.placement.epoch == 2 and d.placement.edge_id == d.edge.heartbeat.edge_id != "eu-1"


def test_rehome_changes_only_meetings_on_the_departed_edge() -> None:
    placed = Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1", "us": "us-1"})
    assert rehome("m1", placed, "eu-3", view(*EU[:2], *US)) is None
    moved = rehome("m1", placed, "eu-1", view(*EU[1:], *US))
    first = rendezvous("m1", EU[1:])[0].heartbeat.edge_id
    assert moved == Placement(edge_id=first, region="eu", epoch=2, sites={"eu": first, "us": "us-1"})
    site_only = rehome("m1", placed, "us-1", view(*EU))  # the us region has no edge left: its site goes
    assert site_only == Placement(edge_id="eu-1", region="eu", epoch=1, sites={"eu": "eu-1"})


def test_entries_written_before_sites_still_decode() -> None:
    old = msgspec.json.decode(b'{"edge_id": "eu-1", "region": "eu", "epoch": 4}', type=Placement)
    assert old.sites == {} and old.site_map() == {"eu": "eu-1"}
    d = decide("m1", old, "eu", view(*EU))
    assert d.placement == Placement(edge_id="eu-1", region="eu", epoch=4, sites={"eu": "eu-1"})


def test_the_rendezvous_order_is_the_meetings_own() -> None:
    edges = [edge(f"eu-{i}", "eu") for i in range(8)]
    order = ids(rendezvous("meeting-a", edges))
    assert ids(rendezvous("meeting-a", list(reversed(edges)))) == order  # independent of the registry's order
    assert ids(rendezvous("meeting-a", [e for e in edges if e.heartbeat.edge_id != order[0]])) == order[1:]
    firsts = {ids(rendezvous(f"meeting-{i}", edges))[0] for i in range(50)}
    assert len(firsts) >= 4  # meetings spread over the edges
    chosen = edges[2]
    assert ids(alternates("meeting-a", chosen, view(*edges))) == [e for e in order if e != "eu-2"]


# -- spreading a busy meeting (docs/scaling.md) -----------------------------------------------------
def worker(edge_id: str, machine: str, cpu: float = 0.0, streams: int = 0, region: str = "eu") -> LiveEdge:
    return LiveEdge(wire.EdgeHeartbeat(edge_id=edge_id, region=region, public_url=f"ws://{edge_id}/ws", cpu_pct=cpu,
                                       machine=machine, streams=streams), time.monotonic())


def test_a_busy_site_spreads_new_joins_onto_another_worker_of_its_machine_first() -> None:
    placed = Placement(edge_id="a-w1", region="eu", epoch=2, sites={"eu": "a-w1"})
    edges = [worker("a-w1", "a", cpu=85), worker("a-w2", "a", cpu=30), worker("b-w1", "b", cpu=1)]
    d = decide("m1", placed, "eu", View(edges))
    # b-w1 is less loaded, but a-w2 shares the site's machine
    assert d.edge.heartbeat.edge_id == "a-w2"
    assert d.placement == Placement(edge_id="a-w1", region="eu", epoch=2, sites={"eu": "a-w1"},
                                    overflow={"eu": ["a-w2"]})
    assert d.placement.names("a-w2") and not d.placement.names("b-w1")
    # the next join fills a-w2 while it is not busy; the site is never given up
    again = decide("m1", d.placement, "eu", View(edges))
    assert again.edge.heartbeat.edge_id == "a-w2" and again.placement == d.placement
    # once the site is below the limit again, joins go back to it
    calm = [worker("a-w1", "a", cpu=40), *edges[1:]]
    assert decide("m1", d.placement, "eu", View(calm)).edge.heartbeat.edge_id == "a-w1"


def test_when_the_machine_is_full_the_meeting_spreads_to_another_machine_and_stops_at_busy() -> None:
    placed = Placement(edge_id="a-w1", region="eu", epoch=1, sites={"eu": "a-w1"}, overflow={"eu": ["a-w2"]})
    edges = [worker("a-w1", "a", cpu=90), worker("a-w2", "a", cpu=75), worker("b-w1", "b", cpu=50),
             worker("b-w2", "b", cpu=10), worker("us-1", "x", cpu=0, region="us")]
    d = decide("m1", placed, "eu", View(edges))
    assert d.edge.heartbeat.edge_id == "b-w2"  # least loaded of the region; never another region's edge
    assert d.placement.overflow == {"eu": ["a-w2", "b-w2"]}
    # every edge of the region busy: the least loaded of the meeting's own, no new overflow
    full = [worker("a-w1", "a", cpu=90), worker("a-w2", "a", cpu=75), worker("b-w1", "b", cpu=99)]
    d = decide("m1", placed, "eu", View(full))
    assert d.edge.heartbeat.edge_id == "a-w2" and d.placement == placed


def test_streams_limit_and_turning_cpu_off() -> None:
    placed = Placement(edge_id="a-w1", region="eu", epoch=1, sites={"eu": "a-w1"})
    edges = [worker("a-w1", "a", cpu=95, streams=120), worker("a-w2", "a", streams=0)]
    by_streams = Capacity(cpu_pct=0, streams=100)
    assert decide("m1", placed, "eu", View(edges, by_streams)).edge.heartbeat.edge_id == "a-w2"
    assert decide("m1", placed, "eu", View(edges, Capacity(cpu_pct=0, streams=0))).edge.heartbeat.edge_id == "a-w1"
    assert not by_streams.busy(worker("x", "a", streams=99)) and by_streams.busy(worker("x", "a", streams=100))


def test_a_gone_overflow_edge_is_replaced_where_its_participants_fail_over() -> None:
    placed = Placement(edge_id="a-w1", region="eu", epoch=4, sites={"eu": "a-w1"}, overflow={"eu": ["a-w2"]})
    survivors = [worker("a-w1", "a"), worker("a-w3", "a"), worker("a-w4", "a")]
    first = rendezvous("m9", survivors)[0].heartbeat.edge_id
    new = rehome("m9", placed, "a-w2", View(survivors))
    assert new is not None and new.epoch == 4 and new.edge_id == "a-w1"  # the home did not move
    assert new.overflow == ({"eu": [first]} if first != "a-w1" else {})
    assert rehome("m9", placed, "b-w7", View(survivors)) is None  # not the meeting's edge
    # the home gone: the site's replacement takes over, and an overflow edge is never also the site
    new = rehome("m9", Placement(edge_id="a-w1", region="eu", epoch=4, sites={"eu": "a-w1"},
                                 overflow={"eu": ["a-w3"]}), "a-w1", View(survivors[1:]))
    assert new is not None and new.epoch == 5
    site = rendezvous("m9", survivors[1:])[0].heartbeat.edge_id
    assert new.edge_id == new.sites["eu"] == site
    assert new.overflow == ({} if site == "a-w3" else {"eu": ["a-w3"]})


def test_entries_written_before_overflow_existed_still_decode() -> None:
    old = msgspec.json.encode({"edge_id": "eu-1", "region": "eu", "epoch": 1, "sites": {"eu": "eu-1"}})
    assert msgspec.json.decode(old, type=Placement).overflow == {}
