"""``cc.cp.rec.<recorder>.<verb>``: what recorder services tell the control plane (request/reply).

The recorder's id comes from the subject (its NATS user may publish only under its own id), so a
recorder speaks only of its own recordings. One error boundary: every request is answered, with
the service's reply or :class:`nodes.wire.ErrorReply`. Control planes side by side share the
queue group ``control-plane``: one answers each request.
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

    async def attach(self, bus: Bus) -> None:
        if self._sub is None:
            self._sub = await bus.nc.subscribe(subjects.ALL_RECORDER_REPORTS, queue=QUEUE, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        reply = await self.answer(msg.subject, msg.data)
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(wire.encode(reply))

    async def answer(self, subject: str, data: bytes) -> msgspec.Struct:
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

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
