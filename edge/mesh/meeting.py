"""One meeting's mesh on this edge: its state for the other edges, theirs for this one, relays.

While this edge hosts the meeting it subscribes to ``cc.relay.m.<meeting>.*.*`` and publishes its
part (:class:`nodes.wire.MeshState`) at once when it changes and every ``mesh.state_interval``
seconds; another edge not heard from for ``mesh.edge_timeout`` seconds is dropped (its
participants leave this edge's roster with reason ``edge_lost``), and one that closes the meeting
says so (``leaving``). Chat, moderators' actions and the end for all travel on
``cc.relay.m.<meeting>.<edge>.signal`` (``<edge>``: the sender). This object is the meeting's
:class:`~edge.conference.remote.MeshLink` and its room's :class:`~edge.sfu.interfaces.RelayEvents`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nodes import subjects, wire

from .. import protocol as m
from ..conference import moderation
from ..conference.interfaces import Refusal
from ..conference.meeting import Meeting
from ..conference.moderation import ModeratorAction
from ..conference.remote import RemoteParticipant
from ..sfu.interfaces import CascadingRoom, SdpError, TrackInfo
from .authority import SenderGate
from .relaying import RelayWants
from .state import EdgeView, describe, participants_of, reasons_of

if TYPE_CHECKING:
    from .node import Mesh

log = logging.getLogger(__name__)

DEBOUNCE = 0.02  # seconds: a burst of changes goes out as one state


class MeshMeeting:
    def __init__(self, node: Mesh, meeting: Meeting) -> None:
        self.node, self.meeting = node, meeting
        self.edges: dict[str, EdgeView] = {}
        self.wants = RelayWants(self)
        self.states_sent = 0
        #: mesh messages refused: a sender that is not the subject's edge, or not part of the meeting
        self.refused = 0
        self.senders = SenderGate(self, lambda msg: self._on_msg(msg, vouched=True))
        self.closed = False
        self._dirty = True
        self._wake = asyncio.Event()
        self._sub: Subscription | None = None
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def room(self) -> CascadingRoom | None:
        """The meeting's forwarding room, when it can relay (the mesh reaches it only through
        :mod:`edge.sfu.interfaces`)."""
        room = self.meeting.room
        return room if isinstance(room, CascadingRoom) else None

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def wake(self) -> None:
        self._wake.set()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._run(), name=f"mesh-{self.meeting.id}")

    async def subscribe(self) -> None:
        nc = self.node.bus.nc
        if self._sub is not None or self.closed or not nc.is_connected:
            return  # not connected yet: the bus's on_connect hook subscribes
        self._sub = await nc.subscribe(subjects.meeting_mesh(self.meeting.id), cb=self._on_msg)
        with contextlib.suppress(Exception):
            await nc.flush(timeout=2)
        self.changed()

    async def close(self) -> None:
        """The meeting closed here: say so, stop listening."""
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._publish_state(leaving=True)
            await self.node.bus.nc.flush(timeout=2)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.meeting.mesh = None

    async def _run(self) -> None:
        s = self.node.settings
        next_state = 0.0
        with contextlib.suppress(Exception):
            await self.subscribe()
        while not self.closed:
            now = time.monotonic()
            if self._sub is not None and (self._dirty or now >= next_state):
                self._dirty = False
                try:
                    await self._publish_state()
                    next_state = now + s.state_interval
                except Exception as exc:  # noqa: BLE001 - NATS away: the next round retries
                    log.warning("mesh state not sent", extra={"meeting": self.meeting.id, "error": repr(exc)})
                    next_state = now + min(s.state_interval, 1.0)
            self._expire(now)
            self.wants.reconcile()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.01, min(next_state - time.monotonic(), 0.5))):
                    await self._wake.wait()
            if self._dirty:
                await asyncio.sleep(DEBOUNCE)

    def _expire(self, now: float) -> None:
        for edge_id, view in list(self.edges.items()):
            if now - view.seen > self.node.settings.edge_timeout:
                log.warning("edge not heard from: dropped from the meeting",
                            extra={"meeting": self.meeting.id, "edge": edge_id})
                self._drop(edge_id, "edge_lost")

    def _drop(self, edge_id: str, reason: str, reasons: dict[str, str] | None = None) -> None:
        self.edges.pop(edge_id, None)
        self.wants.forget(edge_id)
        self.meeting.drop_remote(edge_id, reason, reasons)
        self.meeting.set_remote_recording(edge_id, False)
        self.spawn(self._close_relays(edge_id))

    async def _close_relays(self, edge_id: str) -> None:
        room = self.room
        if room is not None:
            await room.relays.close_out(edge_id)
            await room.relays.close_in(edge_id)

    # -- this edge's state ------------------------------------------------------------------------
    async def _publish_state(self, leaving: bool = False) -> None:
        node = self.node
        state = describe(self.meeting, edge_id=node.edge_id, region=node.region, started_at=node.started_at,
                         seq=node.next_seq(), departed_memory=node.settings.departed_memory, leaving=leaving)
        await node.bus.nc.publish(subjects.mesh(self.meeting.id, node.edge_id, "state"), wire.encode(state))
        self.states_sent += 1

    # -- MeshLink: what the meeting asks of the other edges -----------------------------------------
    def changed(self) -> None:
        self._dirty = True
        self._wake.set()

    def chat(self, msg: m.ChatMessage) -> None:
        out = wire.MeshChat(meeting_id=self.meeting.id, epoch=self.meeting.epoch, edge_id=self.node.edge_id,
                            message_id=msg.message_id, sender=msg.sender, sender_name=msg.sender_name,
                            text=msg.text, to=msg.to, at=msg.at)
        self.spawn(self._publish_signal(out))

    def react(self, msg: m.Reaction) -> None:
        self.spawn(self._publish_signal(wire.MeshReaction(
            meeting_id=self.meeting.id, epoch=self.meeting.epoch, edge_id=self.node.edge_id,
            participant_id=msg.participant_id, reaction=msg.reaction, at=msg.at)))

    async def _publish_signal(self, msg: wire.MeshChat | wire.MeshReaction | wire.MeshEnd) -> None:
        try:
            subject = subjects.mesh(self.meeting.id, self.node.edge_id, "signal")
            await self.node.bus.nc.publish(subject, wire.encode(msg))
        except Exception as exc:  # noqa: BLE001
            log.warning("mesh signal not sent", extra={"meeting": self.meeting.id, "error": repr(exc)})

    async def act(self, target: RemoteParticipant, action: ModeratorAction) -> None:
        if action.verb == "end":
            raise Refusal("invalid", "the end for all is not a participant's action", "type")
        request = wire.MeshAction(meeting_id=self.meeting.id, epoch=self.meeting.epoch, edge_id=self.node.edge_id,
                                  action=action.verb, participant_id=target.id, target_edge=target.edge_id,
                                  by=action.by, reason=action.reason, source=action.source)
        try:
            reply = await self.node.request(subjects.mesh(self.meeting.id, self.node.edge_id, "signal"), request,
                                            wire.mesh_reply_decoder)
        except Exception as exc:  # noqa: BLE001
            raise Refusal("not_found", f"the edge of participant {target.id!r} did not answer ({type(exc).__name__})",
                          "participant_id") from None
        if not (isinstance(reply, wire.MeshReply) and reply.ok):
            raise Refusal("invalid", reply.error or "refused by the participant's edge", "participant_id")

    async def end(self, *, by: str, reason: str) -> None:
        await self._publish_signal(wire.MeshEnd(meeting_id=self.meeting.id, epoch=self.meeting.epoch,
                                                edge_id=self.node.edge_id, by=by, reason=reason))
        with contextlib.suppress(Exception):
            await self.node.bus.nc.flush(timeout=2)

    # -- what the other edges say -------------------------------------------------------------------
    async def _on_msg(self, msg: Msg, vouched: bool = False) -> None:
        try:
            decoded = wire.mesh_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("bad mesh message", extra={"subject": msg.subject, "error": str(exc)})
            await self._respond(msg, wire.MeshReply(ok=False, edge_id=self.node.edge_id,
                                                    error=f"bad mesh message: {exc}"))
            return
        parsed = subjects.parse_mesh(msg.subject)
        sender = parsed[1] if parsed else ""
        if sender != decoded.edge_id:
            self.refused += 1
            error = f"the sender {decoded.edge_id!r} is not the subject's edge {sender!r}"
            log.warning("mesh message refused", extra={"meeting": self.meeting.id, "edge": sender,
                                                       "type": type(decoded).__name__, "error": error})
            await self._respond(msg, wire.MeshReply(ok=False, edge_id=self.node.edge_id, error=error))
            return
        if decoded.edge_id == self.node.edge_id or self.closed:
            return
        kind = parsed[2] if parsed else ""
        if decoded.meeting_id != self.meeting.id or (kind == "state") != isinstance(decoded, wire.MeshState):
            log.warning("mesh message on the wrong subject",
                        extra={"subject": msg.subject, "type": type(decoded).__name__})
            return
        if isinstance(decoded, wire.MeshAction) and decoded.target_edge != self.node.edge_id:
            return  # for another edge: it answers
        if not (vouched or isinstance(decoded, wire.MeshState) or await self.senders.admits(decoded, msg)):
            return
        stale = self.node.check_epoch(self.meeting, decoded.epoch)
        if stale:
            log.warning("mesh message refused", extra={"meeting": self.meeting.id, "edge": decoded.edge_id,
                                                       "error": stale})
            await self._respond(msg, wire.MeshReply(ok=False, edge_id=self.node.edge_id, error=stale))
            return
        match decoded:
            case wire.MeshState():
                self._on_state(decoded)
            case wire.MeshChat():
                self.meeting.deliver_chat(m.ChatMessage(message_id=decoded.message_id, sender=decoded.sender,
                                                        sender_name=decoded.sender_name, text=decoded.text,
                                                        to=decoded.to, at=decoded.at))
            case wire.MeshReaction():
                self.meeting.deliver_reaction(decoded.participant_id, decoded.reaction, decoded.at)
            case wire.MeshAction():
                self.spawn(self._act_here(decoded, msg))
            case wire.MeshEnd():
                self.spawn(moderation.apply(self.meeting, moderation.from_mesh(decoded)))

    async def refuse_sender(self, decoded: wire.MeshMessage, msg: Msg, reason: str) -> None:
        log.warning("mesh message refused", extra={"meeting": self.meeting.id, "edge": decoded.edge_id,
                                                   "type": type(decoded).__name__, "error": reason})
        self.refused += 1
        await self._respond(msg, wire.MeshReply(ok=False, edge_id=self.node.edge_id, error=reason))

    def _on_state(self, state: wire.MeshState) -> None:
        view = self.edges.get(state.edge_id)
        if view is not None and not view.newer(state):
            return
        self.meeting.learn(state.policy, state.barred)  # kept even from an edge that closed the meeting
        if state.leaving:
            if view is not None:
                self._drop(state.edge_id, "left", reasons_of(state))
            return
        new = view is None
        if view is None:
            view = self.edges[state.edge_id] = EdgeView(state.edge_id)
        if view.take(state):  # another process under the same edge id: its relays are new
            self.wants.forget(state.edge_id)
            self.spawn(self._close_relays(state.edge_id))
        self.meeting.apply_remote(state.edge_id, participants_of(state), reasons_of(state))
        self.meeting.set_remote_recording(state.edge_id, state.recording)
        if new:
            self.changed()  # the newcomer hears from this edge now, not at the next interval
        self.wake()

    async def _act_here(self, a: wire.MeshAction, msg: Msg) -> None:
        error = ""
        try:
            await moderation.apply(self.meeting, moderation.from_mesh(a))
        except Refusal as r:
            error = r.message
        log.info("mesh action", extra={"meeting": self.meeting.id, "action": a.action, "from": a.edge_id,
                                       "error": error})
        await self._respond(msg, wire.MeshReply(ok=not error, edge_id=self.node.edge_id, error=error))

    async def _respond(self, msg: Msg, reply: msgspec.Struct) -> None:
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(wire.encode(reply))

    # -- relays -----------------------------------------------------------------------------------
    async def serve_want(self, req: wire.RelayWant) -> wire.RelayReply:
        room = self.room
        if room is None:
            return self._refuse(f"meeting {self.meeting.id!r} has no media on edge {self.node.edge_id}")
        if req.restart or not req.tracks:
            await room.relays.close_out(req.edge_id)
        accepted = room.relays.sending(req.edge_id, self).want(req.tracks) if req.tracks else []
        return wire.RelayReply(ok=True, edge_id=self.node.edge_id, accepted=accepted)

    async def serve_offer(self, req: wire.RelayOffer) -> wire.RelayReply:
        room = self.room
        if room is None:
            return self._refuse(f"meeting {self.meeting.id!r} has no media on edge {self.node.edge_id}")
        tracks = {t.mid: TrackInfo(track_id=t.track_id, participant_id=t.participant_id, kind=t.kind,
                                   source=t.source, codec=t.codec, muted=t.muted)  # type: ignore[arg-type]
                  for t in req.tracks}
        fresh = req.edge_id not in room.relays.inbound
        try:
            answer = await room.relays.receiving(req.edge_id, self).offer(req.sdp, tracks)
        except SdpError as exc:
            if fresh:
                await room.relays.close_in(req.edge_id, keep=True)  # a refused first offer leaves no PC behind
            return self._refuse(f"relay offer refused: {exc}")
        return wire.RelayReply(ok=True, edge_id=self.node.edge_id, sdp=answer)

    def _refuse(self, error: str) -> wire.RelayReply:
        return wire.RelayReply(ok=False, edge_id=self.node.edge_id, error=error)

    # RelayEvents
    def on_relay_offer(self, edge_id: str, sdp: str, tracks: dict[str, TrackInfo]) -> None:
        self.spawn(self._send_offer(edge_id, sdp, tracks))

    def on_relay_state(self, edge_id: str, direction: str, state: str) -> None:
        log.info("relay", extra={"meeting": self.meeting.id, "edge": edge_id, "direction": direction, "state": state})
        room = self.room
        if state in ("failed", "closed") and room is not None:
            self.spawn(room.relays.close_out(edge_id) if direction == "out"
                       else room.relays.close_in(edge_id, keep=True))  # asked for again (restart)
        self.wake()

    async def _send_offer(self, edge_id: str, sdp: str, tracks: dict[str, TrackInfo]) -> None:
        room = self.room
        relay = room.relays.out.get(edge_id) if room is not None else None
        if relay is None:
            return
        offer = wire.RelayOffer(meeting_id=self.meeting.id, epoch=self.meeting.epoch, edge_id=self.node.edge_id,
                                sdp=sdp, tracks=[wire.RelayTrack(mid=mid, track_id=t.track_id,
                                                                 participant_id=t.participant_id, kind=t.kind,
                                                                 source=t.source, codec=t.codec, muted=t.muted)
                                                 for mid, t in tracks.items()])
        error = ""
        try:
            subject = subjects.relay(edge_id, self.node.edge_id, "offer")
            reply = await self.node.request(subject, offer, wire.relay_reply_decoder)
            if not (isinstance(reply, wire.RelayReply) and reply.ok):
                error = reply.error or "refused"
            elif room.relays.out.get(edge_id) is relay:
                await relay.answer(reply.sdp)
        except Exception as exc:  # noqa: BLE001 - the other edge asks again (restart)
            error = repr(exc)
        if error and room.relays.out.get(edge_id) is relay:
            log.warning("relay offer failed", extra={"meeting": self.meeting.id, "edge": edge_id, "error": error})
            await room.relays.close_out(edge_id)
