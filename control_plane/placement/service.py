"""Placing meetings on edges, so that two control planes never put one meeting on two edges.

The placement of meeting ``M`` is the JetStream KV entry ``cc_placement`` / ``M`` holding
:class:`~.choose.Placement` (home edge, region, epoch, sites); what a join or a departed edge
changes in it is decided by :mod:`.choose`. Every write is a compare-and-swap on the entry's
revision — ``create`` when there is no entry, ``update(last=revision)`` otherwise — so of two
control planes writing at once one wins; the other re-reads and decides again from the winner's
entry (which then usually needs no change).

The epoch goes into join tokens (``ep``) and every command, so an edge can refuse orders meant
for an older placement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import msgspec
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from nodes import subjects
from nodes.bus import Bus
from nodes.wire import MeetingPolicy

from ..edges.registry import EdgeRegistry, LiveEdge
from .choose import Capacity, NoEdgeError, Placement, View, decide, rehome

__all__ = ["NoEdgeError", "Placed", "Placement", "PlacementService", "PlacementUnavailable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    """The edge a participant is sent to, and the other available edges of its region."""

    placement: Placement
    edge: LiveEdge
    alternates: list[LiveEdge] = field(default_factory=list)
    #: True when this call wrote the entry (created it, moved the home, changed a site).
    changed: bool = False

    @property
    def alt(self) -> list[str]:
        return [e.heartbeat.edge_id for e in self.alternates]


class PlacementUnavailable(Exception):
    """The placement bucket cannot be reached (NATS or JetStream is down)."""


_decoder = msgspec.json.Decoder(Placement)


class PlacementService:
    def __init__(self, edges: EdgeRegistry, *, capacity: Capacity | None = None, attempts: int = 8) -> None:
        self.edges = edges
        self.capacity = capacity or Capacity()
        self.attempts = attempts
        self._kv: KeyValue | None = None

    async def attach(self, bus: Bus) -> None:
        """Open (creating if needed) the placement bucket (a :meth:`Bus.on_connect` hook)."""
        js = bus.js
        try:
            self._kv = await js.key_value(subjects.PLACEMENT_BUCKET)
        except BucketNotFoundError:
            self._kv = await js.create_key_value(bucket=subjects.PLACEMENT_BUCKET, history=5,
                                                 description="meeting id -> home edge, region, epoch, sites")

    @property
    def ready(self) -> bool:
        return self._kv is not None

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise PlacementUnavailable("the placement bucket is not open yet (NATS not connected)")
        return self._kv

    async def current(self, meeting_id: str) -> tuple[Placement, int] | None:
        """The recorded placement of *meeting_id* and its revision, or None."""
        try:
            entry = await self._bucket().get(subjects.token(meeting_id))
        except KeyNotFoundError:
            return None
        except PlacementUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - timeouts, JetStream down
            raise PlacementUnavailable(f"cannot read the placement bucket: {exc!r}") from None
        if entry.value is None:
            return None
        return _decoder.decode(entry.value), entry.revision or 0

    async def history(self, meeting_id: str) -> list[Placement]:
        """The entries the bucket still keeps for *meeting_id* (its history, oldest first)."""
        try:
            entries = await self._bucket().history(subjects.token(meeting_id))
        except NoKeysError:
            return []
        except PlacementUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise PlacementUnavailable(f"cannot read the placement bucket: {exc!r}") from None
        return [_decoder.decode(e.value) for e in entries if e.value]

    async def _write(self, meeting_id: str, new: Placement, found: tuple[Placement, int] | None) -> bool:
        """Compare-and-swap *new* over *found*; False when another writer came first."""
        kv, key = self._bucket(), subjects.token(meeting_id)
        try:
            if found is None:
                await kv.create(key, msgspec.json.encode(new))
            else:
                await kv.update(key, msgspec.json.encode(new), last=found[1])
        except KeyWrongLastSequenceError:
            return False
        except Exception as exc:  # noqa: BLE001
            raise PlacementUnavailable(f"cannot write the placement bucket: {exc!r}") from None
        return True

    async def place(self, meeting_id: str, region: str) -> Placed:
        """The edge for a participant of *region* in *meeting_id*, recording what changed."""
        for _ in range(self.attempts):
            found = await self.current(meeting_id)
            old = found[0] if found else None
            d = decide(meeting_id, old, region, View(self.edges.live(), self.capacity))
            if d.placement == old:
                return Placed(d.placement, d.edge, d.alternates)
            if not await self._write(meeting_id, d.placement, found):
                continue  # another control plane wrote first: decide again from its entry
            _log_change(meeting_id, old, d.placement, why="join")
            return Placed(d.placement, d.edge, d.alternates, changed=True)
        raise PlacementUnavailable("placement kept changing under us; try again")

    async def rehome(self, meeting_id: str, gone: str) -> Placement | None:
        """After edge *gone* left: move the meeting's home and sites off it (see :func:`.choose.rehome`).
        Returns the new entry, or None when nothing had to (or could) change."""
        for _ in range(self.attempts):
            found = await self.current(meeting_id)
            if found is None:
                return None
            # an edge that restarted is live again, but not what the meeting had there
            live = [e for e in self.edges.live() if e.heartbeat.edge_id != gone]
            new = rehome(meeting_id, found[0], gone, View(live, self.capacity))
            if new is None:
                return None
            if await self._write(meeting_id, new, found):
                _log_change(meeting_id, found[0], new, why=f"edge {gone} left")
                return new
        raise PlacementUnavailable("placement kept changing under us; try again")

    async def set_policy(self, meeting_id: str, policy: MeetingPolicy) -> None:
        """Record the meeting's entry policy for the edge that opens it next (key
        ``<meeting>.policy`` of the same bucket). Raises :class:`PlacementUnavailable`."""
        try:
            await self._bucket().put(subjects.policy_key(meeting_id), msgspec.json.encode(policy))
        except PlacementUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise PlacementUnavailable(f"cannot write the placement bucket: {exc!r}") from None

    async def forget(self, meeting_id: str) -> None:
        """Remove the placement (and entry policy) of a deleted meeting."""
        for key in (subjects.token(meeting_id), subjects.policy_key(meeting_id)):
            try:
                await self._bucket().delete(key)
            except (KeyNotFoundError, PlacementUnavailable):
                pass


def _log_change(meeting_id: str, old: Placement | None, new: Placement, *, why: str) -> None:
    moved = old is not None and old.edge_id != new.edge_id
    log.info("meeting re-homed" if moved else "meeting placed",
             extra={"meeting_id": meeting_id, "edge_id": new.edge_id, "epoch": new.epoch, "sites": new.sites,
                    "overflow": new.overflow,
                    "moved_from": old.edge_id if moved else "", "why": why})
