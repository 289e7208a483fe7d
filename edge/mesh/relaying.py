"""Which tracks this edge asks the meeting's other edges to relay to it, kept up to date.

For every other edge of the meeting, this edge wants all the tracks that edge announces (its
local-origin tracks) as soon as it has one local participant who receives media, and nothing
otherwise. :meth:`RelayWants.reconcile` compares that with what was last asked for and sends a
``RelayWant`` when it differs. A relay that does not come up within ``mesh.relay_retry`` seconds,
breaks, or whose request failed, is asked for again with ``restart`` (both edges then build a
fresh peer connection).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nodes import subjects, wire

if TYPE_CHECKING:
    from .meeting import MeshMeeting

log = logging.getLogger(__name__)


@dataclass
class Want:
    #: What the other edge last accepted to be asked for (None: never asked, or the ask failed).
    asked: list[str] | None = None
    #: time.monotonic() of the last ask
    at: float = float("-inf")
    pending: bool = False


class RelayWants:
    def __init__(self, mm: MeshMeeting) -> None:
        self.mm = mm
        self.by_edge: dict[str, Want] = {}
        self.asks = 0

    def receiving_here(self) -> bool:
        """Some local participant receives media (so other edges' tracks are worth relaying)."""
        return any(p.state == "in" and p.subscribe and p.has_peer for p in self.mm.meeting.participants.values())

    def reconcile(self) -> None:
        room = self.mm.room
        if room is None or self.mm.closed:
            return
        receiving = self.receiving_here()
        now = time.monotonic()
        retry = self.mm.node.settings.relay_retry
        for edge_id, view in self.mm.edges.items():
            w = self.by_edge.setdefault(edge_id, Want())
            if w.pending:
                continue
            wanted = sorted(view.tracks) if receiving else []
            if not wanted:
                if w.asked:
                    self._ask(edge_id, w, [], restart=False)
                continue
            inbound = room.relays.inbound.get(edge_id)
            up = inbound is not None and inbound.state == "connected"
            if now - w.at >= retry and (w.asked is None or not up):
                self._ask(edge_id, w, wanted, restart=True)
            elif w.asked is not None and wanted != w.asked:
                self._ask(edge_id, w, wanted, restart=False)

    def forget(self, edge_id: str) -> None:
        self.by_edge.pop(edge_id, None)

    def _ask(self, edge_id: str, w: Want, tracks: list[str], *, restart: bool) -> None:
        w.pending = True
        w.at = time.monotonic()
        self.mm.spawn(self._send(edge_id, w, tracks, restart))

    async def _send(self, edge_id: str, w: Want, tracks: list[str], restart: bool) -> None:
        mm = self.mm
        room = mm.room
        try:
            if room is not None and (restart or not tracks):
                # a fresh relay is a fresh peer connection on both sides; on a restart the relayed
                # tracks stay, so this edge's subscribers keep them (a new origin takes over)
                await room.relays.close_in(edge_id, keep=bool(tracks))
            self.asks += 1
            request = wire.RelayWant(meeting_id=mm.meeting.id, epoch=mm.meeting.epoch, edge_id=mm.node.edge_id,
                                     tracks=tracks, restart=restart)
            subject = subjects.relay(edge_id, mm.node.edge_id, "want")
            reply = await mm.node.request(subject, request, wire.relay_reply_decoder)
            if isinstance(reply, wire.RelayReply) and reply.ok:
                w.asked = tracks
            else:
                w.asked = None
                log.warning("relay request refused", extra={"meeting": mm.meeting.id, "edge": edge_id,
                                                            "error": getattr(reply, "error", "")})
        except Exception as exc:  # noqa: BLE001 - no responders, timeout, closed: asked again later
            w.asked = None
            log.warning("relay request failed", extra={"meeting": mm.meeting.id, "edge": edge_id,
                                                       "error": repr(exc)})
        finally:
            w.pending = False
            mm.wake()
