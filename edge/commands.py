"""Commands from the control plane: ``cc.cmd.<meeting>.<verb>`` while this edge hosts the meeting.

The edge subscribes to ``cc.cmd.<meeting>.*`` for every meeting it hosts (and drops the
subscription when the meeting closes), carries out :data:`nodes.wire.Command` and answers with
:class:`nodes.wire.CommandReply`. Rules:

* a repeated ``command_id`` is carried out once; the repeat gets the first reply again;
* the epoch rule of :func:`edge.conference.moderation.check_epoch` (the mesh's too): an older
  ``epoch`` than the meeting's is refused (``stale epoch N (the meeting is at M)``), a newer one is
  adopted;
* the action is applied by :func:`edge.conference.moderation.apply` (the same checks and effects as
  a moderator's request over signaling or the mesh); the control plane is trusted to ask;
* ``EndMeeting`` and ``Policy`` (the meeting's lock and participant limit: see
  :mod:`edge.conference.seats`) are carried out by every edge of the meeting, and so is ``Notice``
  (a moderator's message to everyone, :func:`edge.conference.breakouts.notice`);
* ``Breakout`` (breakout rooms: :func:`edge.conference.breakouts.move`) tells this edge's
  participants among its moves where to go; when none of them is here it is answered ``not here``
  as below;
* a participant command for someone this edge does not host is answered ``not here`` only after
  ``commands.not_here_delay``, so that when a meeting spans several edges the reply of the edge
  that hosts the participant arrives first (request/reply keeps the first answer).

Messages are handed from the NATS callback to one worker task, so dropping a subscription (the
meeting ended) never cancels a command half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nodes import subjects, wire
from nodes.bus import Bus

from .conference import actions, breakouts, moderation
from .conference.conference import Conference
from .conference.interfaces import Refusal
from .settings import CommandsSettings

log = logging.getLogger(__name__)

VERB: dict[type, str] = {wire.Kick: "kick", wire.Mute: "mute", wire.Admit: "admit", wire.Deny: "deny",
                         wire.Promote: "promote", wire.EndMeeting: "end", wire.Policy: "policy",
                         wire.Breakout: "breakout", wire.Notice: "notice"}
NOT_HERE = "not here"


class CommandEndpoint:
    def __init__(self, bus: Bus, conference: Conference, *, edge_id: str, settings: CommandsSettings) -> None:
        self.bus, self.conference, self.edge_id, self.settings = bus, conference, edge_id, settings
        self._subs: dict[str, Subscription] = {}
        self._replies: OrderedDict[str, asyncio.Future[wire.CommandReply | None]] = OrderedDict()
        self._inbox: asyncio.Queue[Msg] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._worker: asyncio.Task[None] | None = None
        self.executed = 0

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="commands")
        self.conference.on_meeting_opened(lambda _mt: self._spawn(self.sync()))
        self.conference.on_meeting_closed(lambda _mt: self._spawn(self.sync()))
        self.bus.on_connect(lambda _bus: self.sync())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- subscriptions ----------------------------------------------------------------------------
    async def sync(self) -> None:
        """Subscribe to the meetings hosted here and drop the subscriptions of the others."""
        async with self._lock:
            nc = self.bus.nc
            if not (nc.is_connected or nc.is_reconnecting):
                return  # not connected yet: the on_connect hook syncs (nats-py restores subscriptions later)
            hosted = set(self.conference.meetings)
            for mid in hosted - set(self._subs):
                try:
                    sub = await nc.subscribe(subjects.meeting_commands(mid), cb=self._on_msg)
                except Exception as exc:  # noqa: BLE001 - the next sync (a meeting opens or closes) retries
                    log.warning("cannot subscribe to commands", extra={"meeting": mid, "error": repr(exc)})
                    continue
                if nc.is_connected:
                    # The server knows before we count it as subscribed. nats-py writes a flush's
                    # PING ahead of commands still pending, so one round trip may overtake the SUB.
                    with contextlib.suppress(Exception):
                        await nc.flush(timeout=2)
                        await nc.flush(timeout=2)
                self._subs[mid] = sub
            for mid in set(self._subs) - hosted:
                sub = self._subs.pop(mid)
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        self._inbox.put_nowait(msg)

    async def _work(self) -> None:
        while True:
            msg = await self._inbox.get()
            try:
                await self._handle(msg)
            except Exception:  # noqa: BLE001 - one bad command must not stop the others
                log.exception("command failed", extra={"subject": msg.subject})

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for task in list(self._tasks):
            task.cancel()
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()

    # -- handling ---------------------------------------------------------------------------------
    async def _respond(self, msg: Msg, reply: wire.CommandReply | None, delay: float = 0.0) -> None:
        if reply is None or not msg.reply:
            return
        if delay > 0:
            await asyncio.sleep(delay)
        with contextlib.suppress(Exception):
            await msg.respond(wire.encode(reply))

    def _fail(self, command_id: str, error: str) -> wire.CommandReply:
        return wire.CommandReply(command_id=command_id, ok=False, edge_id=self.edge_id, error=error)

    async def _handle(self, msg: Msg) -> None:
        try:
            cmd = wire.command_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._respond(msg, self._fail("", f"bad command: {exc}"))
            return
        parts = msg.subject.split(".")
        if len(parts) != 4 or parts[2] != cmd.meeting_id or parts[3] != VERB[type(cmd)]:
            await self._respond(msg, self._fail(cmd.command_id, f"{type(cmd).__name__} for meeting "
                                                               f"{cmd.meeting_id!r} does not belong on {msg.subject}"))
            return
        seen = self._replies.get(cmd.command_id)
        if seen is not None:
            reply = await asyncio.shield(seen)
            await self._respond(msg, reply, self._delay(reply))
            return
        future: asyncio.Future[wire.CommandReply | None] = asyncio.get_running_loop().create_future()
        self._replies[cmd.command_id] = future
        while len(self._replies) > self.settings.remember:
            self._replies.popitem(last=False)
        try:
            reply = await self._execute(cmd)
        except Exception as exc:  # noqa: BLE001
            log.exception("command failed", extra={"command_id": cmd.command_id})
            reply = self._fail(cmd.command_id, f"failed: {exc!r}")
        future.set_result(reply)
        self.executed += 1
        log.info("command", extra={"type": type(cmd).__name__, "command_id": cmd.command_id,
                                   "meeting": cmd.meeting_id, "ok": bool(reply and reply.ok),
                                   "error": reply.error if reply else "silent"})
        self._spawn(self._respond(msg, reply, self._delay(reply)))

    def _delay(self, reply: wire.CommandReply | None) -> float:
        return self.settings.not_here_delay if reply is not None and reply.error == NOT_HERE else 0.0

    async def _execute(self, cmd: Any) -> wire.CommandReply | None:
        mt = self.conference.meeting(cmd.meeting_id)
        if mt is None:
            return None  # not hosted here (any more): the edges that host it answer
        try:
            moderation.check_epoch(mt, cmd.epoch)
            if isinstance(cmd, wire.Policy):  # every edge of the meeting enforces it from now on
                mt.learn(cmd.policy, [])
                return wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
            if isinstance(cmd, wire.Notice):
                breakouts.notice(mt, cmd)
                return wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
            if isinstance(cmd, wire.Breakout):
                if not breakouts.move(mt, cmd):
                    return self._fail(cmd.command_id, NOT_HERE)  # another edge of the meeting hosts them
                return wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
            action = moderation.from_command(cmd, actions.CONTROL_PLANE)
            if action.verb != "end" and action.participant_id not in mt.participants:
                return self._fail(cmd.command_id, NOT_HERE)  # another edge of the meeting hosts it
            await moderation.apply(mt, action)
        except Refusal as r:
            return self._fail(cmd.command_id, r.message)
        return wire.CommandReply(command_id=cmd.command_id, ok=True, edge_id=self.edge_id)
