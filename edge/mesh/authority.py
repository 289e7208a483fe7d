"""Which edges may speak for a meeting on its mesh: the edges its placement names.

Chat, moderators' actions and the end for all (``cc.relay.m.<meeting>.<edge>.signal``) are taken
only from an edge that is part of the meeting. The subject names the sender (each edge's NATS user
may publish only under its own id) and the payload must say the same; then this edge reads the
meeting's placement entry (bucket ``cc_placement``, read-only, in the JetStream domain
``mesh.placement_domain``; cached for ``mesh.placement_ttl`` seconds):

* the sender is the meeting's home or one of its sites → **taken**;
* it was, in an earlier entry the bucket still keeps (its history, read message by message) →
  **taken**: after a cut heals, the edges of a meeting split by it are each other's again before
  anyone joins to update the placement;
* the entry names other edges → read again; still not named → **wait**: participants that failed
  over to another edge of a region get there before the control plane re-homes the meeting, so a
  chat or end is checked again until ``mesh.placement_wait`` seconds have passed, then **refused**
  (an action, a request its sender waits for, is refused at once, saying why);
* there is no entry, or it cannot be read (the region is cut off from the hub, or no control plane
  placed the meeting) → only an edge already in this meeting's mesh (one whose mesh state this
  edge has heard, and not dropped) is **taken**; any other is **refused**.

Mesh states are not gated: they only describe the sender's own participants, and an edge joins
the mesh by sending them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from nodes import subjects, wire
from nodes.bus import Bus

if TYPE_CHECKING:
    from .meeting import MeshMeeting

log = logging.getLogger(__name__)

TAKE, WAIT, REFUSE = "take", "wait", "refuse"
#: Messages of one meeting held for the placement at once; more are refused at once.
MAX_HELD = 64
KV_STREAM = f"KV_{subjects.PLACEMENT_BUCKET}"


class PlacedEdges(msgspec.Struct, kw_only=True, frozen=True):
    """What an edge reads of a placement entry: the home edge, the sites and the overflow edges."""

    edge_id: str
    region: str = ""
    sites: dict[str, str] = msgspec.field(default_factory=dict)
    overflow: dict[str, list[str]] = msgspec.field(default_factory=dict)

    def names(self, edge_id: str) -> bool:
        return (edge_id == self.edge_id or edge_id in self.sites.values()
                or any(edge_id in edges for edges in self.overflow.values()))


_decoder = msgspec.json.Decoder(PlacedEdges)
#: No entry, or it could not be read.
UNKNOWN = None


def _key(meeting_id: str) -> str:
    return f"$KV.{subjects.PLACEMENT_BUCKET}.{subjects.token(meeting_id)}"


def _entry(msg) -> PlacedEdges | None:  # noqa: ANN001 - nats RawStreamMsg
    if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
        return UNKNOWN
    try:
        return _decoder.decode(msg.data)
    except msgspec.DecodeError:
        return UNKNOWN


class MeshAuthority:
    def __init__(self, bus: Bus, *, domain: str | None, timeout: float = 1.0, ttl: float = 2.0) -> None:
        self.bus, self.domain, self.timeout, self.ttl = bus, domain, timeout, ttl
        self._cache: dict[str, tuple[float, PlacedEdges | None]] = {}

    async def placement(self, meeting_id: str, *, fresh: bool = False) -> PlacedEdges | None:
        now = time.monotonic()
        cached = self._cache.get(meeting_id)
        if cached is not None and not fresh and now - cached[0] < self.ttl:
            return cached[1]
        entry = await self._read(meeting_id)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[meeting_id] = (time.monotonic(), entry)
        return entry

    async def _read(self, meeting_id: str) -> PlacedEdges | None:
        try:
            js = self.bus.nc.jetstream(domain=self.domain, timeout=self.timeout)
            msg = await js.get_last_msg(KV_STREAM, _key(meeting_id))
        except NotFoundError:
            return UNKNOWN
        except Exception as exc:  # noqa: BLE001 - cut off, no permission, timeout: fall back
            log.info("meeting placement not readable", extra={"meeting": meeting_id, "error": repr(exc)})
            return UNKNOWN
        return _entry(msg)

    async def named_before(self, meeting_id: str, edge_id: str, *, limit: int = 16) -> bool:
        """Whether an earlier entry of the meeting the bucket still keeps names *edge_id*."""
        js = self.bus.nc.jetstream(domain=self.domain, timeout=self.timeout)
        seq = 1
        for _ in range(limit):
            try:
                msg = await js.get_msg(KV_STREAM, seq=seq, subject=_key(meeting_id), next=True)
            except Exception:  # noqa: BLE001 - none left, or not readable
                return False
            entry = _entry(msg)
            if entry is not None and entry.names(edge_id):
                return True
            if not msg.seq:
                return False
            seq = msg.seq + 1
        return False

    async def judge(self, meeting_id: str, sender: str, in_mesh: bool) -> tuple[str, str]:
        """(TAKE | WAIT | REFUSE, reason) for a chat, action or end from *sender*."""
        entry = await self.placement(meeting_id)
        if entry is not None and not entry.names(sender):
            entry = await self.placement(meeting_id, fresh=True)
        if entry is None:
            if in_mesh:
                return TAKE, ""
            return REFUSE, (f"edge {sender!r} is not part of meeting {meeting_id!r} (not in its mesh, "
                            "and its placement cannot be read)")
        if entry.names(sender) or await self.named_before(meeting_id, sender):
            return TAKE, ""
        return WAIT, f"meeting {meeting_id!r} is not placed on edge {sender!r}"


class SenderGate:
    """One meeting's check of who sends it chat, actions and the end (the rules above)."""

    def __init__(self, mm: MeshMeeting, redeliver: Callable[[Msg], Awaitable[None]]) -> None:
        self.mm = mm
        self.redeliver = redeliver  # hands a held message back once its sender is vouched for
        self.held = 0

    async def _judge(self, decoded: wire.MeshMessage) -> tuple[str, str]:
        mm = self.mm
        return await mm.node.authority.judge(mm.meeting.id, decoded.edge_id, decoded.edge_id in mm.edges)

    async def admits(self, decoded: wire.MeshMessage, msg: Msg) -> bool:
        """True: take it now. False: it was refused, or is held and checked again."""
        outcome, reason = await self._judge(decoded)
        if outcome == TAKE:
            return True
        # a moderator's action is a request: its sender waits for the answer only so long, so it is
        # answered now rather than carried out after the sender gave up
        if outcome == WAIT and self.held < MAX_HELD and not isinstance(decoded, wire.MeshAction):
            self.mm.spawn(self._hold(decoded, msg))
            return False
        await self.mm.refuse_sender(decoded, msg, reason)
        return False

    async def _hold(self, decoded: wire.MeshMessage, msg: Msg) -> None:
        mm = self.mm
        wait = mm.node.settings.placement_wait
        deadline = time.monotonic() + wait
        outcome, reason = WAIT, ""
        self.held += 1
        try:
            while not mm.closed:
                await asyncio.sleep(min(0.5, mm.node.authority.ttl))
                outcome, reason = await self._judge(decoded)
                if outcome == TAKE:
                    await self.redeliver(msg)
                    return
                if outcome != WAIT or time.monotonic() >= deadline:
                    break
        finally:
            self.held -= 1
        if not mm.closed:
            await mm.refuse_sender(decoded, msg, f"{reason} (waited {wait:g} s for its placement)"
                                   if outcome == WAIT else reason)
