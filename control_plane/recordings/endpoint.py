"""``cc.cp.rec.<recorder>.<verb>``: what recorder services tell the control plane, and
``cc.edge.<edge>.record``: a moderator's start or stop, from its edge (request/reply).

The recorder's or edge's id comes from the subject (its NATS user may publish only under its own
id), so a recorder speaks only of its own recordings and an edge only of the meetings it hosts. One
error boundary: every request is answered, with the service's reply or
:class:`nodes.wire.ErrorReply`. Control planes side by side share the queue group
``control-plane``: one answers each request.
"""

from __future__ import annotations

import contextlib
import logging

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nodes import subjects, wire
from nodes.bus import Bus

from .service import RecordingService

log = logging.getLogger(__name__)
QUEUE = "control-plane"


class RecorderReports:
    def __init__(self, recordings: RecordingService) -> None:
        self.recordings = recordings
        self._sub: Subscription | None = None
        self._edge_sub: Subscription | None = None

    async def attach(self, bus: Bus) -> None:
        if self._sub is None:
            self._sub = await bus.nc.subscribe(subjects.ALL_RECORDER_REPORTS, queue=QUEUE, cb=self._on_msg)
            self._edge_sub = await bus.nc.subscribe(subjects.ALL_EDGE_RECORD, queue=QUEUE, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        reply = await self.answer(msg.subject, msg.data)
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(wire.encode(reply))

    async def answer(self, subject: str, data: bytes) -> msgspec.Struct:
        edge_id = subjects.parse_edge_record(subject)
        if edge_id is not None:
            return await self._edge_request(edge_id, data)
        parsed = subjects.parse_recorder_report(subject)
        if parsed is None:
            return wire.ErrorReply(error="bad_subject", detail=subject)
        recorder_id, verb = parsed
        try:
            report = wire.recorder_report_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return wire.ErrorReply(error="bad_request", detail=str(exc))
        try:
            match report:
                case wire.RecordRejoin() if verb == "rejoin":
                    return await self.recordings.rejoin(recorder_id, report)
                case wire.RecordDone() if verb == "done":
                    return await self.recordings.done(recorder_id, report)
                case _:
                    return wire.ErrorReply(error="bad_request", detail=f"{report.__class__.__name__} on {verb!r}")
        except Exception as exc:  # noqa: BLE001 - the one error boundary: always answer
            log.exception("recorder report failed")
            return wire.ErrorReply(error="internal", detail=repr(exc))

    async def _edge_request(self, edge_id: str, data: bytes) -> msgspec.Struct:
        try:
            request = wire.record_control_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return wire.ErrorReply(error="bad_request", detail=str(exc))
        try:
            return await self.recordings.from_edge(edge_id, request)
        except Exception as exc:  # noqa: BLE001 - the one error boundary: always answer
            log.exception("record request failed")
            return wire.ErrorReply(error="internal", detail=repr(exc))

    async def stop(self) -> None:
        for sub in (self._sub, self._edge_sub):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        self._sub = self._edge_sub = None
