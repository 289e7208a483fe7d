"""Where a join goes and how a meeting's placement entry changes — decided without any I/O.

A placement (:class:`Placement`) names the meeting's **home** edge, its fencing ``epoch``, its
**sites** — region → the edge serving that region for this meeting (the home's region included) —
and its **overflow**: region → further edges of the region that the meeting spread onto while its
site was busy. Only *available* edges count: live in the registry and not draining (a draining
edge refuses joins, so for placement it is as good as gone). An edge is *busy* when its last
heartbeat reports CPU or subscriber streams at or above the :class:`Capacity` limits.

A join from region ``R`` goes to (:func:`decide`):

1. the meeting's site for ``R``, if available and not busy; else the first of ``R``'s overflow
   edges that is not busy; else, if every one of them is busy, a new overflow edge: the
   least-loaded edge of ``R`` not busy, another worker of the site's machine first (a machine's
   workers are one site: cascading between them stays on the machine) — and if there is none,
   the least loaded of the meeting's busy edges of ``R``;
2. if ``R`` has no site: the least-loaded available edge of ``R``, recorded as ``R``'s site;
3. if ``R`` has no available edge: the home edge.

Participants already seated are never moved for load: only joins spread. The meeting's edges
form its cascade (``docs/regions.md``), so each track still crosses each edge pair once.

Before that the entry is **repaired** (:func:`repair`): a site that is no longer available is
replaced by the first available edge of its region in the meeting's *rendezvous order* (or
dropped when its region has none), and a home that is gone moves — with ``epoch + 1`` — to its
region's new site, else to the least-loaded available site of another region, else (only for a
join) to the least-loaded available edge, the participant's region first.

The rendezvous order (highest-random-weight hashing of meeting id and edge id) is the order in
which join tokens list the alternates (``alt``) too: every participant of a meeting whose edge
died tries the same edge of its region first, and the control plane records that same edge as
the region's new site, so the meeting comes together again on one edge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from ..edges.registry import LiveEdge


class Placement(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    #: The home edge and its region.
    edge_id: str
    region: str
    #: +1 every time the home moves.
    epoch: int
    #: Region → the edge serving that region for this meeting (empty in entries written before
    #: sites existed: then the home serves its region).
    sites: dict[str, str] = msgspec.field(default_factory=dict)
    #: Region → further edges of that region the meeting spread onto while its site was busy.
    overflow: dict[str, list[str]] = msgspec.field(default_factory=dict)

    def site_map(self) -> dict[str, str]:
        return dict(self.sites) if self.sites else {self.region: self.edge_id}

    def edge_ids(self) -> set[str]:
        """Every edge the entry names: the home, the sites and the overflow edges."""
        return {self.edge_id, *self.site_map().values(), *(e for es in self.overflow.values() for e in es)}

    def names(self, edge_id: str) -> bool:
        """*edge_id* is the meeting's home, one of its sites or one of its overflow edges."""
        return edge_id in self.edge_ids()


@dataclass(frozen=True)
class Capacity:
    """When an edge counts as busy: at or above *cpu_pct* percent of its core, or (when set) at or
    above *streams* forwarded subscriber streams. Zero turns a limit off."""

    cpu_pct: float = 70.0
    streams: int = 0

    def busy(self, edge: LiveEdge) -> bool:
        hb = edge.heartbeat
        return (0 < self.cpu_pct <= hb.cpu_pct) or (0 < self.streams <= hb.streams)


class NoEdgeError(Exception):
    """No live edge can take the meeting."""


def _weight(meeting_id: str, edge_id: str) -> bytes:
    return hashlib.blake2b(f"{meeting_id}\x00{edge_id}".encode(), digest_size=8).digest()


def rendezvous(meeting_id: str, edges: Iterable[LiveEdge]) -> list[LiveEdge]:
    """*edges* in the meeting's own order (the same on every control plane, for every token)."""
    return sorted(edges, key=lambda e: _weight(meeting_id, e.heartbeat.edge_id), reverse=True)


class View:
    """The registry's available edges at one moment."""

    def __init__(self, live: Iterable[LiveEdge], capacity: Capacity | None = None) -> None:
        self._by_id = {e.heartbeat.edge_id: e for e in live if not e.heartbeat.draining}
        self.capacity = capacity or Capacity()

    def busy(self, edge: LiveEdge) -> bool:
        return self.capacity.busy(edge)

    def available(self, edge_id: str | None) -> LiveEdge | None:
        return self._by_id.get(edge_id) if edge_id else None

    def in_region(self, region: str) -> list[LiveEdge]:
        return [e for e in self._by_id.values() if e.heartbeat.region == region]

    @staticmethod
    def least_loaded(edges: Iterable[LiveEdge | None]) -> LiveEdge | None:
        return min((e for e in edges if e is not None), key=lambda e: (e.load, e.heartbeat.edge_id), default=None)

    def least_loaded_near(self, region: str) -> LiveEdge | None:
        """The least-loaded available edge of *region*, else of any region."""
        return self.least_loaded(self.in_region(region)) or self.least_loaded(self._by_id.values())


@dataclass(frozen=True)
class Decision:
    #: What the entry should hold (equal to the old entry when nothing changes).
    placement: Placement
    #: Where the participant goes, and the other available edges of its region (rendezvous order).
    edge: LiveEdge
    alternates: list[LiveEdge]


def alternates(meeting_id: str, edge: LiveEdge, view: View) -> list[LiveEdge]:
    return [e for e in rendezvous(meeting_id, view.in_region(edge.heartbeat.region))
            if e.heartbeat.edge_id != edge.heartbeat.edge_id]


def repair(meeting_id: str, old: Placement, view: View, *, region: str | None = None) -> Placement:
    """*old* with unavailable sites replaced and a gone home moved (see the module docstring).

    *region* is the joining participant's; without it (a re-home after an edge left) a home that
    only an edge outside the meeting's sites could take stays where it is — the next join moves it.
    """
    sites: dict[str, str] = {}
    for site_region, edge_id in old.site_map().items():
        if view.available(edge_id):
            sites[site_region] = edge_id
        elif replacement := next(iter(rendezvous(meeting_id, view.in_region(site_region))), None):
            sites[site_region] = replacement.heartbeat.edge_id
    overflow = _repair_overflow(meeting_id, old, sites, view)
    if view.available(old.edge_id):
        return Placement(edge_id=old.edge_id, region=old.region, epoch=old.epoch, sites=sites, overflow=overflow)
    home = view.available(sites.get(old.region)) or view.least_loaded(view.available(e) for e in sites.values())
    if home is None and region is not None:
        home = view.least_loaded_near(region)
    if home is None:
        if region is not None:
            raise NoEdgeError("no live edge can take this meeting")
        return old
    hb = home.heartbeat
    sites.setdefault(hb.region, hb.edge_id)
    overflow = {r: [e for e in es if e != sites.get(r)] for r, es in overflow.items()}
    return Placement(edge_id=hb.edge_id, region=hb.region, epoch=old.epoch + 1, sites=sites,
                     overflow={r: es for r, es in overflow.items() if es})


def _repair_overflow(meeting_id: str, old: Placement, sites: dict[str, str], view: View) -> dict[str, list[str]]:
    """Overflow edges still available; a gone one replaced by the first available edge of its region
    in rendezvous order (where its participants fail over to), unless the meeting has it already."""
    out: dict[str, list[str]] = {}
    for region, edge_ids in old.overflow.items():
        kept: list[str] = []
        for edge_id in edge_ids:
            if not view.available(edge_id):
                first = next(iter(rendezvous(meeting_id, view.in_region(region))), None)
                edge_id = first.heartbeat.edge_id if first else ""
            if edge_id and edge_id != sites.get(region) and edge_id not in kept:
                kept.append(edge_id)
        if kept:
            out[region] = kept
    return out


def decide(meeting_id: str, old: Placement | None, region: str, view: View) -> Decision:
    """The entry to record and the edge for a participant of *region* (raises :class:`NoEdgeError`)."""
    if old is None:
        edge = view.least_loaded_near(region)
        if edge is None:
            raise NoEdgeError("no live edge can take this meeting")
        hb = edge.heartbeat
        new = Placement(edge_id=hb.edge_id, region=hb.region, epoch=1, sites={hb.region: hb.edge_id})
        return Decision(new, edge, alternates(meeting_id, edge, view))
    new = repair(meeting_id, old, view, region=region)
    sites, overflow = dict(new.sites), {r: list(es) for r, es in new.overflow.items()}
    site = view.available(sites.get(region))
    if site is not None:
        edge = _spread(new, site, region, view, overflow)
    else:
        edge = view.least_loaded(view.in_region(region))
        if edge is not None:
            sites[region] = edge.heartbeat.edge_id
        else:
            edge = view.available(new.edge_id)
    assert edge is not None  # repair() leaves an available home or raises
    new = Placement(edge_id=new.edge_id, region=new.region, epoch=new.epoch, sites=sites, overflow=overflow)
    return Decision(new, edge, alternates(meeting_id, edge, view))


def _spread(placed: Placement, site: LiveEdge, region: str, view: View, overflow: dict[str, list[str]]) -> LiveEdge:
    """The edge of *region* for a join when the meeting has a site there (rule 1 of the module
    docstring); a new overflow edge is appended to *overflow*."""
    serving = [site, *(e for e in (view.available(i) for i in overflow.get(region, [])) if e is not None)]
    for edge in serving:
        if not view.busy(edge):
            return edge
    taken = placed.edge_ids()
    machine = site.heartbeat.machine
    spare = [e for e in view.in_region(region) if e.heartbeat.edge_id not in taken and not view.busy(e)]
    if spare:
        edge = min(spare, key=lambda e: (not machine or e.heartbeat.machine != machine, e.load, e.heartbeat.edge_id))
        overflow.setdefault(region, []).append(edge.heartbeat.edge_id)
        return edge
    best = view.least_loaded(serving)
    assert best is not None
    return best


def rehome(meeting_id: str, old: Placement, gone: str, view: View) -> Placement | None:
    """The entry once edge *gone* has left, or None when it changes nothing."""
    if not old.names(gone):
        return None
    new = repair(meeting_id, old, view)
    return None if new == old else new
