"""The recorder service: records meetings when the control plane asks, over NATS.

It answers :data:`nodes.subjects.RECORD_START` in the queue group ``recorders`` (one recorder of
several takes each recording) and :func:`nodes.subjects.record_stop` for its own recordings, and
reports to the control plane on ``cc.cp.rec.<its id>.<verb>``: ``rejoin`` when a recording lost its
edge (or the service restarted with recordings in progress) and ``done`` when one is finished.
Every request is answered — :class:`nodes.wire.RecordReply` or :class:`nodes.wire.ErrorReply` —
never with silence. Each recording is a :class:`~recorder.job.Job` in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from nodes import subjects, wire
from nodes.bus import Bus

from .job import FollowLater, Job
from .settings import Settings

log = logging.getLogger(__name__)

REPORT_TIMEOUT = 5.0


class RecorderService:
    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus, self.settings = bus, settings
        self.id = settings.recorder_id
        self.root = Path(settings.dir)
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subs: list[Subscription] = []
        self._resumed = False
        self._closing = False
        #: Of the recordings that ended here: how many, their segments and media bytes (metrics).
        self.finished = 0
        self.finished_segments = 0
        self.finished_bytes = 0

    # -- NATS --------------------------------------------------------------------------------------
    async def attach(self, bus: Bus) -> None:
        """Subscribe (a :meth:`Bus.on_connect` hook) and resume the recordings left unfinished."""
        if not self._subs:
            nc = bus.nc
            self._subs = [await nc.subscribe(subjects.RECORD_START, queue=subjects.RECORDERS_QUEUE, cb=self._on_msg),
                          await nc.subscribe(subjects.record_stop(self.id), cb=self._on_msg)]
        if not self._resumed:
            self._resumed = True
            for directory, recording_id, meeting_id in Job.unfinished(self.root):
                log.info("resuming recording %s of meeting %s", recording_id, meeting_id)
                self._run(self._job(directory, recording_id, meeting_id), None, None)

    async def _on_msg(self, msg: Msg) -> None:
        self._spawn(self._answer(msg))   # a start waits for its seat: never hold up the next request

    async def _answer(self, msg: Msg) -> None:
        try:
            request = wire.recorder_request_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._respond(msg, wire.ErrorReply(error="bad_request", detail=str(exc)))
            return
        try:
            match request:
                case wire.RecordStart():
                    reply = await self.start(request)
                case wire.RecordStop():
                    reply = await self.stop(request.recording_id)
        except Exception as exc:  # noqa: BLE001 - the one error boundary: always answer
            log.exception("recorder request failed")
            await self._respond(msg, wire.ErrorReply(error="internal", detail=repr(exc)))
            return
        await self._respond(msg, reply)

    @staticmethod
    async def _respond(msg: Msg, reply: msgspec.Struct) -> None:
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(wire.encode(reply))

    # -- recordings ----------------------------------------------------------------------------------
    def _job(self, directory: Path, recording_id: str, meeting_id: str) -> Job:
        job: Job

        async def rejoin() -> tuple[str, str] | None:
            return await self._rejoin(job)
        job = Job(directory, recording_id, meeting_id, rejoin, follow_timeout=self.settings.follow_timeout)
        return job

    def _run(self, job: Job, edge_url: str | None, token: str | None) -> None:
        self.jobs[job.recording_id] = job

        async def run() -> None:
            await job.run(edge_url, token)
            if self.jobs.get(job.recording_id) is job:
                del self.jobs[job.recording_id]
            self.finished += 1
            self.finished_segments += job.visits
            self.finished_bytes += job.bytes_written()
            if not job.suspended and (job.ever_seated or edge_url is None):  # a start refused is answered
                await self._report_done(job)
        self._spawn(run())

    async def start(self, req: wire.RecordStart) -> wire.RecordReply:
        refused = self._check_ids(req.recording_id, req.meeting_id)
        if refused:
            return wire.RecordReply(ok=False, recorder_id=self.id, error=refused)
        if req.recording_id in self.jobs:
            return wire.RecordReply(ok=False, recorder_id=self.id, error="this recording is already running here")
        if self._closing:
            return wire.RecordReply(ok=False, recorder_id=self.id, error="this recorder is shutting down")
        try:
            job = self._job(self.root / req.recording_id, req.recording_id, req.meeting_id)
        except OSError as exc:
            log.error("cannot start recording %s: %s", req.recording_id, exc)
            return wire.RecordReply(ok=False, recorder_id=self.id,
                                    error=f"cannot write recordings to {self.root}: {exc.strerror or exc}")
        self._run(job, req.edge_url, req.token)
        seated = asyncio.ensure_future(job.seated.wait())
        done = asyncio.ensure_future(job.done.wait())
        try:
            await asyncio.wait({seated, done}, timeout=self.settings.join_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            seated.cancel()
            done.cancel()
        if job.seated.is_set():
            log.info("recording %s of meeting %s started", req.recording_id, req.meeting_id)
            return wire.RecordReply(ok=True, recorder_id=self.id)
        if not job.done.is_set():
            await job.stop()
            return wire.RecordReply(ok=False, recorder_id=self.id,
                                    error=f"the edge did not seat the recorder within {self.settings.join_timeout:g} s")
        return wire.RecordReply(ok=False, recorder_id=self.id, error=job.error or job.reason)

    async def stop(self, recording_id: str) -> wire.RecordReply:
        job = self.jobs.get(recording_id)
        if job is None:
            return wire.RecordReply(ok=False, recorder_id=self.id, error="no such recording is running here")
        await job.stop()
        return wire.RecordReply(ok=True, recorder_id=self.id, error=job.error)

    @staticmethod
    def _check_ids(*ids: str) -> str:
        for value in ids:
            try:
                subjects.token(value)
            except subjects.SubjectError as exc:
                return str(exc)
        return ""

    async def _rejoin(self, job: Job) -> tuple[str, str] | None:
        request = wire.RecordRejoin(recording_id=job.recording_id, meeting_id=job.meeting_id)
        try:
            msg = await self.bus.nc.request(subjects.recorder_report(self.id, "rejoin"), wire.encode(request),
                                            timeout=REPORT_TIMEOUT)
            reply = wire.rejoin_reply_decoder.decode(msg.data)
        except (nats.errors.Error, TimeoutError, msgspec.DecodeError) as exc:
            raise FollowLater(f"the control plane did not answer: {exc!r}") from None
        match reply:
            case wire.RecordRejoinReply(ok=True):
                return reply.edge_url, reply.token
            case wire.RecordRejoinReply(retry=True):
                raise FollowLater(reply.error)
            case _:
                job.reason = job.reason or f"the control plane ended it: {getattr(reply, 'error', '')}"
                return None

    async def _report_done(self, job: Job) -> None:
        files, size = job.totals()
        report = wire.RecordDone(recording_id=job.recording_id, meeting_id=job.meeting_id, reason=job.reason,
                                 error=job.error, files=files, bytes=size)
        delay = 0.5
        for _ in range(8):
            try:
                await self.bus.nc.request(subjects.recorder_report(self.id, "done"), wire.encode(report),
                                          timeout=REPORT_TIMEOUT)
                return
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("recording %s: done not confirmed (%r), retrying", job.recording_id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        log.error("recording %s: the control plane never confirmed it is done", job.recording_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Shutting down: leave every meeting but keep the recordings in progress (``job.json``),
        so the service resumes them when it starts again."""
        self._closing = True
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        for job in list(self.jobs.values()):
            await job.suspend()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
