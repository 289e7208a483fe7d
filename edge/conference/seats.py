"""Who may take a seat: one seat per join token, tokens that no longer join, the entry policy.

The conference keeps one :class:`SeatBook` for all its meetings, so what it holds outlives a
meeting that empties and opens again:

* **barred tokens** — the ``jti`` of a participant who was kicked or denied no longer joins the
  meeting (refused ``kicked`` / ``denied``) until the token's ``exp``; the meeting's other edges
  learn them from the mesh state, so a failover with the same token is refused there too;
* **the entry policy** — lock and participant limit (:class:`nodes.wire.MeetingPolicy`), the newest
  ``version`` of those the edge has seen in join tokens (``pol``), ``policy`` commands and the
  mesh state. A locked meeting admits only hosts and moderators (refused ``locked``); a full one
  refuses the next seat (``meeting_full``), counting everyone in the meeting or its lobby on every
  edge, except the seat the same token already holds (a second join replaces it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from nodes import wire
from nodes.claims import JoinClaims

from .interfaces import Refusal

#: Policies remembered for meetings not open here (the oldest are forgotten first).
POLICY_MEMORY = 10_000
#: Roles that may join a locked meeting (the control plane's rule for issuing tokens).
LOCK_EXEMPT = ("host", "moderator")

_BARRED_MESSAGE = {
    "kicked": "you were removed from this meeting: this join token no longer joins it",
    "denied": "you were turned away from this meeting: this join token no longer joins it",
}


@dataclass(frozen=True)
class Barred:
    meeting_id: str
    reason: str
    until: float


class SeatBook:
    def __init__(self) -> None:
        self._barred: dict[str, Barred] = {}
        self._policies: OrderedDict[str, wire.MeetingPolicy] = OrderedDict()

    # -- tokens that no longer join ---------------------------------------------------------------
    def bar(self, meeting_id: str, token_id: str, reason: str, until: float) -> bool:
        """Remember that *token_id* no longer joins *meeting_id*; False if it was known already."""
        if not token_id or until <= time.time() or token_id in self._barred:
            return False
        self._barred[token_id] = Barred(meeting_id, reason if reason in _BARRED_MESSAGE else "kicked", until)
        return True

    def barred(self, meeting_id: str) -> list[wire.MeshBarred]:
        self._expire()
        return [wire.MeshBarred(token_id=t, reason=b.reason, until=b.until) for t, b in self._barred.items()
                if b.meeting_id == meeting_id]

    def check_token(self, claims: JoinClaims) -> None:
        self._expire()
        b = self._barred.get(claims.jti)
        if b is not None and b.meeting_id == claims.mid:
            raise Refusal(b.reason, _BARRED_MESSAGE[b.reason], "token")

    def _expire(self) -> None:
        now = time.time()
        for token_id in [t for t, b in self._barred.items() if b.until <= now]:
            del self._barred[token_id]

    # -- the entry policy -------------------------------------------------------------------------
    def policy(self, meeting_id: str) -> wire.MeetingPolicy:
        return self._policies.get(meeting_id) or wire.MeetingPolicy()

    def adopt(self, meeting_id: str, policy: wire.MeetingPolicy) -> bool:
        """Keep *policy* if it is newer than the one known; True when it was."""
        known = self._policies.get(meeting_id)
        if known is not None and policy.version <= known.version:
            return False
        if known is None and policy == wire.MeetingPolicy():
            return False  # nothing known either way
        self._policies[meeting_id] = policy
        self._policies.move_to_end(meeting_id)
        while len(self._policies) > POLICY_MEMORY:
            self._policies.popitem(last=False)
        return True

    def check_entry(self, claims: JoinClaims, seats_taken: int) -> None:
        """The lock and the participant limit, for a join that would take one more seat."""
        pol = self.policy(claims.mid)
        if pol.locked and claims.role not in LOCK_EXEMPT:
            raise Refusal("locked", "the meeting is locked: only its hosts and moderators may join")
        if pol.max_participants and seats_taken >= pol.max_participants:
            raise Refusal("meeting_full", f"the meeting is full ({seats_taken} of {pol.max_participants})")
