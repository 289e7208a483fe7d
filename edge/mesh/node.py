"""This edge's place in the meshes of the meetings it hosts, and its relay signaling endpoint.

One :class:`~.meeting.MeshMeeting` per meeting hosted here (opened and closed with the meeting).
Relay requests addressed to this edge arrive on ``cc.relay.e.<edge>.<sender>.<verb>`` (request/reply):
``want`` (:class:`nodes.wire.RelayWant`: another edge wants tracks of this edge's participants)
and ``offer`` (:class:`nodes.wire.RelayOffer`: another edge sends its tracks to this one); each
is answered with :class:`nodes.wire.RelayReply`. Every request names the meeting, the sender (which
must be the sender in the subject, the only one its NATS user may publish as, and part of the
meeting: :mod:`.authority`) and the epoch it believes current; an older epoch than the meeting's is refused with
``stale epoch N (the meeting is at M)``, a newer one raises the meeting's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nodes import subjects, wire
from nodes.bus import Bus

from ..conference.conference import Conference
from ..conference.interfaces import Refusal
from ..conference.meeting import Meeting
from ..conference.moderation import check_epoch
from ..settings import MeshSettings
from .authority import TAKE, MeshAuthority
from .meeting import MeshMeeting
from .policy import PolicyReader

log = logging.getLogger(__name__)

VERBS: dict[type, str] = {wire.RelayWant: "want", wire.RelayOffer: "offer"}


def stale_epoch(meeting: Meeting, epoch: int) -> str:
    """The refusal for a message from an older epoch (empty: accepted; a newer one is adopted):
    :func:`edge.conference.moderation.check_epoch`, the rule commands follow too."""
    try:
        check_epoch(meeting, epoch)
    except Refusal as r:
        return r.message
    return ""


class Mesh:
    def __init__(self, bus: Bus, conference: Conference, *, edge_id: str, region: str,
                 settings: MeshSettings) -> None:
        self.bus, self.conference = bus, conference
        self.edge_id, self.region, self.settings = edge_id, region, settings
        #: This process's start: with the sequence number, it orders this edge's states.
        self.started_at = time.time()
        self.meetings: dict[str, MeshMeeting] = {}
        self._seq = itertools.count(1)
        self._inbox: Subscription | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.served = 0
        self.authority = MeshAuthority(bus, domain=settings.placement_domain or bus.settings.jetstream_domain,
                                       timeout=min(1.0, settings.request_timeout), ttl=settings.placement_ttl)
        self.policies = PolicyReader(bus, domain=settings.placement_domain or bus.settings.jetstream_domain,
                                     timeout=min(1.0, settings.request_timeout))

    def next_seq(self) -> int:
        return next(self._seq)

    check_epoch = staticmethod(stale_epoch)

    def start(self) -> None:
        self.conference.policy_source = self.policies.read
        self.conference.on_meeting_opened(self._opened)
        self.conference.on_meeting_closed(self._closed)
        self.bus.on_connect(self._connected)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connected(self, bus: Bus) -> None:
        if self._inbox is None:
            self._inbox = await bus.nc.subscribe(subjects.relay_inbox(self.edge_id), cb=self._on_relay)
        for mm in list(self.meetings.values()):
            await mm.subscribe()

    def _opened(self, meeting: Meeting) -> None:
        mm = MeshMeeting(self, meeting)
        meeting.mesh = mm
        self.meetings[meeting.id] = mm
        mm.start()

    def _closed(self, meeting: Meeting) -> None:
        mm = self.meetings.get(meeting.id)
        if mm is not None and mm.meeting is meeting:
            del self.meetings[meeting.id]
            self._spawn(mm.close())

    async def close(self) -> None:
        for mm in list(self.meetings.values()):
            await mm.close()
        self.meetings.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._inbox is not None:
            with contextlib.suppress(Exception):
                await self._inbox.unsubscribe()

    # -- requests to other edges ------------------------------------------------------------------
    async def request(self, subject: str, msg: msgspec.Struct, decoder: msgspec.json.Decoder) -> Any:
        reply = await self.bus.nc.request(subject, wire.encode(msg), timeout=self.settings.request_timeout)
        return decoder.decode(reply.data)

    # -- relay signaling addressed to this edge ---------------------------------------------------
    async def _on_relay(self, msg: Msg) -> None:
        self._spawn(self._serve(msg))

    async def _serve(self, msg: Msg) -> None:
        reply = await self.serve(msg.subject, msg.data)
        self.served += 1
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(wire.encode(reply))

    async def serve(self, subject: str, data: bytes) -> wire.RelayReply:
        def refuse(error: str) -> wire.RelayReply:
            log.warning("relay request refused", extra={"subject": subject, "error": error})
            return wire.RelayReply(ok=False, edge_id=self.edge_id, error=error)

        try:
            req = wire.relay_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return refuse(f"bad relay request: {exc}")
        parsed = subjects.parse_relay(subject)
        if parsed is None or parsed[2] != VERBS[type(req)]:
            return refuse(f"{type(req).__name__} does not belong on {subject}")
        if parsed[1] != req.edge_id:
            return refuse(f"the sender {req.edge_id!r} is not the subject's edge {parsed[1]!r}")
        mm = self.meetings.get(req.meeting_id)
        if mm is None or mm.closed:
            return refuse(f"meeting {req.meeting_id!r} is not hosted on edge {self.edge_id}")
        if req.edge_id == self.edge_id:
            return refuse("a relay to this edge itself")
        outcome, reason = await self.authority.judge(req.meeting_id, req.edge_id, req.edge_id in mm.edges)
        if outcome != TAKE:  # no media for an edge that is not part of the meeting (asked again later)
            return refuse(reason)
        stale = stale_epoch(mm.meeting, req.epoch)
        if stale:
            return refuse(stale)
        try:
            if isinstance(req, wire.RelayWant):
                return await mm.serve_want(req)
            return await mm.serve_offer(req)
        except Exception as exc:  # noqa: BLE001 - the requester retries
            log.exception("relay request failed", extra={"subject": subject})
            return refuse(f"failed: {exc!r}")
