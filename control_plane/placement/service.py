"""Placing a meeting on its home edge, so that two control planes never put it on two edges.

The home of meeting ``M`` is the JetStream KV entry ``cc_placement`` / ``M`` holding
:class:`Placement` (edge, region, epoch). A join:

* keeps the home edge while it is live;
* otherwise picks the least-loaded live edge in the participant's region (any region if that
  one has none) and records it: with ``create`` when there is no entry (only one writer can win),
  or with ``update(revision)`` and ``epoch + 1`` when the recorded edge is gone (compare-and-swap:
  a writer that read an older revision loses). The loser re-reads and uses the winner's choice.

The epoch goes into join tokens (``ep``) and every command, so an edge can refuse orders meant
for an older placement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import msgspec
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from nodes import subjects
from nodes.bus import Bus

from ..edges.registry import EdgeRegistry, LiveEdge

log = logging.getLogger(__name__)


class Placement(msgspec.Struct, kw_only=True, frozen=True):
    edge_id: str
    region: str
    epoch: int


@dataclass(frozen=True)
class Placed:
    """The home edge a participant is sent to, and the other live edges of its region."""

    placement: Placement
    edge: LiveEdge
    alt: list[str]
    #: True when this call created or moved the placement.
    changed: bool = False


class NoEdgeError(Exception):
    """No live edge can take the meeting."""


class PlacementUnavailable(Exception):
    """The placement bucket cannot be reached (NATS or JetStream is down)."""


_decoder = msgspec.json.Decoder(Placement)


class PlacementService:
    def __init__(self, edges: EdgeRegistry, *, attempts: int = 8) -> None:
        self.edges = edges
        self.attempts = attempts
        self._kv: KeyValue | None = None

    async def attach(self, bus: Bus) -> None:
        """Open (creating if needed) the placement bucket (a :meth:`Bus.on_connect` hook)."""
        js = bus.js
        try:
            self._kv = await js.key_value(subjects.PLACEMENT_BUCKET)
        except BucketNotFoundError:
            self._kv = await js.create_key_value(bucket=subjects.PLACEMENT_BUCKET, history=5,
                                                 description="meeting id -> home edge, region, epoch")

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

    def _alt(self, home: LiveEdge) -> list[str]:
        region = home.heartbeat.region
        return [e.heartbeat.edge_id for e in self.edges.live()
                if e.heartbeat.region == region and e.heartbeat.edge_id != home.heartbeat.edge_id
                and not e.heartbeat.draining]

    async def place(self, meeting_id: str, region: str) -> Placed:
        """The home edge of *meeting_id*, placing or moving it as the module docstring says."""
        kv = self._bucket()
        key = subjects.token(meeting_id)
        for _ in range(self.attempts):
            found = await self.current(meeting_id)
            if found is not None:
                placement, revision = found
                home = self.edges.get(placement.edge_id)
                if home is not None:
                    return Placed(placement=placement, edge=home, alt=self._alt(home))
            chosen = self.edges.least_loaded(region)
            if chosen is None:
                raise NoEdgeError("no live edge can take this meeting")
            hb = chosen.heartbeat
            try:
                if found is None:
                    new = Placement(edge_id=hb.edge_id, region=hb.region, epoch=1)
                    await kv.create(key, msgspec.json.encode(new))
                else:
                    new = Placement(edge_id=hb.edge_id, region=hb.region, epoch=found[0].epoch + 1)
                    await kv.update(key, msgspec.json.encode(new), last=found[1])
            except KeyWrongLastSequenceError:
                continue  # another control plane placed it first: use its choice
            except Exception as exc:  # noqa: BLE001
                raise PlacementUnavailable(f"cannot write the placement bucket: {exc!r}") from None
            log.info("meeting placed", extra={"meeting_id": meeting_id, "edge_id": new.edge_id,
                                              "epoch": new.epoch, "moved_from": found[0].edge_id if found else ""})
            return Placed(placement=new, edge=chosen, alt=self._alt(chosen), changed=True)
        raise PlacementUnavailable("placement kept changing under us; try again")

    async def forget(self, meeting_id: str) -> None:
        """Remove the placement of a deleted meeting."""
        try:
            await self._bucket().delete(subjects.token(meeting_id))
        except (KeyNotFoundError, PlacementUnavailable):
            pass
