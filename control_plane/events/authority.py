"""Whether an event may speak for its meeting: the sending edge must be one the meeting is placed on.

The subject names the sending edge (``cc.evt.<edge>.<meeting>.<kind>``; each edge's NATS user may
publish only under its own id), and the payload must say the same. Then the meeting's placement
(:mod:`control_plane.placement`) decides:

* the edge is the meeting's home or one of its sites → **accepted**;
* the edge was (an entry the bucket still keeps in its history) → **accepted**: events it stored
  in its region while cut off from the hub arrive after the heal, when the meeting may have
  moved on;
* the meeting has an entry that does not name the edge → **wait**: participants that failed over
  to another edge of the region reach it before the control plane re-homes the meeting there, so
  the event is asked for again (``nak`` with a delay) for up to ``events.placement_wait`` seconds,
  then **refused**;
* the meeting is placed nowhere (no entry) → **refused** at once: no edge may speak for it.

An edge once accepted for a meeting stays accepted (the history keeps naming it), so the pair is
remembered and the next events of that edge and meeting cost no read of the bucket.

A refused event is terminated (never redelivered) and logged as a WARNING with the meeting, the
edge and the reason; it changes nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from nodes import subjects, wire

from ..placement.service import PlacementService

ACCEPT, WAIT, REFUSE = "accept", "wait", "refuse"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""


class EventAuthority:
    def __init__(self, placement: PlacementService, *, wait: float = 30.0, memory: int = 10_000) -> None:
        self.placement = placement
        self.wait = wait
        self.memory = memory
        #: event id → when it was first held back for want of a placement naming its edge
        self._waiting: dict[str, float] = {}
        #: (meeting, edge) pairs already accepted, least recently used first
        self._named: OrderedDict[tuple[str, str], None] = OrderedDict()

    @staticmethod
    def mismatch(subject: str, event: wire.Event) -> str:
        """Why *event* does not belong on *subject* (empty: it does)."""
        parsed = subjects.parse_event(subject)
        expected = (event.edge_id, event.meeting_id, wire.EVENT_KIND[type(event)])
        if parsed is None:
            return f"{subject} is not an event subject"
        if parsed[0] != event.edge_id:
            return f"the sender {event.edge_id!r} is not the subject's edge {parsed[0]!r}"
        if parsed != expected:
            return f"{type(event).__name__} for meeting {event.meeting_id!r} does not belong on {subject}"
        return ""

    async def judge(self, event: wire.Event) -> Verdict:
        """May *event*'s edge speak for its meeting? (raises PlacementUnavailable: try again later)"""
        mid, edge = event.meeting_id, event.edge_id
        if (mid, edge) in self._named:
            self._named.move_to_end((mid, edge))
            return Verdict(ACCEPT)
        found = await self.placement.current(mid)
        if found is None:
            return self._done(event, Verdict(REFUSE, f"meeting {mid!r} is not placed on any edge"))
        if found[0].names(edge) or any(p.names(edge) for p in await self.placement.history(mid)):
            self._named[(mid, edge)] = None
            if len(self._named) > self.memory:
                self._named.popitem(last=False)
            return self._done(event, Verdict(ACCEPT))
        now = time.monotonic()
        if len(self._waiting) >= self.memory:
            self._waiting.pop(next(iter(self._waiting)))
        first = self._waiting.setdefault(event.event_id, now)
        reason = f"meeting {mid!r} is not placed on edge {edge!r}"
        if now - first < self.wait:
            return Verdict(WAIT, reason)
        return self._done(event, Verdict(REFUSE, f"{reason} (waited {self.wait:g} s for its placement)"))

    def _done(self, event: wire.Event, verdict: Verdict) -> Verdict:
        self._waiting.pop(event.event_id, None)
        return verdict
