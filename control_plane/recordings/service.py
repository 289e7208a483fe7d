"""Recordings: who may start, stop, see, download and delete them, and the talk with recorders.

* **Start** (the meeting's owner, co-hosts and admins, whose account role carries the ``record``
  grant: admin and host): the meeting must be live on an edge, not already recorded and not
  end-to-end encrypted (409: the server cannot read such a meeting's media).
  A row is added (``recording``; the unique index keeps it to one per meeting), a hidden
  recorder's join token is signed for the meeting's edge and :class:`nodes.wire.RecordStart`
  goes to the recorders' queue group. The answer comes once a recorder is seated; otherwise the
  row is removed and the caller gets why (503: no recorder service runs; 504: none answered in
  time; 409: the recorder refused, e.g. its folder is not writable).
* **Stop**: :class:`nodes.wire.RecordStop` to the recorder writing it; it answers once its
  manifest is final. A recorder that no longer runs: the recording is marked stopped anyway.
* **Recorders report** on ``cc.cp.rec.<recorder>.<verb>`` (:class:`RecorderReports`): ``rejoin``
  gets a fresh token for the meeting's current edge, ``done`` marks the recording finished.
  A recorder may speak only of the recordings it writes.
* **Reading**: the row plus the manifest in ``recordings.dir/<id>/`` (tracks, sizes, duration).
  Downloads serve only the manifest and the files it lists, to the meeting's hosts and admins.
* **Retention**: finished recordings older than ``recordings.retention_days`` are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import msgspec
import nats.errors
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException, ServiceUnavailableException

from nodes import manifest, subjects, wire
from nodes.bus import Bus
from nodes.claims import Permissions

from .. import audit
from ..accounts.repository import AccountRepository
from ..auth.principal import Principal, require_role
from ..db import DatabaseUnavailable
from ..edges.registry import EdgeRegistry
from ..errors import FieldError
from ..meetings import e2ee
from ..meetings.service import MeetingService, iso_utc
from ..placement.service import PlacementService, PlacementUnavailable
from ..settings import RecordingSettings
from ..tokens.permissions import CEILING
from ..tokens.service import TokenService
from .repository import RecordingRepository
from .schemas import RecordedTrack, RecordingRead

log = logging.getLogger(__name__)

RECORDER_GRANTS = Permissions(subscribe=True, record=True)
RECORDER_NAME = "Recorder"


@dataclass(frozen=True)
class Who:
    """An account asking through an edge (a moderator in the room), as the checks need it."""

    account_id: str
    role: str
    username: str


_CODES = {401: "forbidden", 403: "forbidden", 404: "not_found", 409: "recording_refused", 503: "unavailable",
          504: "unavailable"}


class Unavailable(Exception):
    """The meeting has no live edge right now."""


class RecordingService:
    def __init__(self, bus: Bus, meetings: MeetingService,
                 placement: PlacementService, edges: EdgeRegistry, tokens: TokenService,
                 settings: RecordingSettings) -> None:
        self.repo = RecordingRepository(meetings.db)
        self.accounts = AccountRepository(meetings.db)
        self.bus, self.meetings, self.placement, self.edges, self.tokens = bus, meetings, placement, edges, tokens
        self.settings = settings
        self.root = Path(settings.dir)
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._auto_pending: set[str] = set()
        self._finished: list[Callable[..., Awaitable[None]]] = []

    def on_finished(self, listener: Callable[..., Awaitable[None]]) -> None:
        """Call ``listener(recording_id, meeting_id, state=, reason=, error=, started_at=, stopped_at=)``
        once a recording is finished (its manifest final), e.g. to queue a webhook."""
        self._finished.append(listener)

    async def _notify_finished(self, recording_id: str) -> None:
        row = await self.repo.get(recording_id)
        if row is None:
            return
        for listener in list(self._finished):
            try:
                await listener(row["id"], row["meeting_id"], state=row["state"], reason=row["reason"],
                               error=row["error"], started_at=row["started_at"], stopped_at=row["stopped_at"])
            except Exception as exc:  # noqa: BLE001 - the recording is finished either way
                log.warning("recording finished listener failed", extra={"recording_id": recording_id,
                                                                         "error": repr(exc)})

    # -- permissions ----------------------------------------------------------------------------
    async def _managed(self, principal: Principal, meeting_id: str, action: str) -> aiosqlite.Row:
        return await self.meetings.managed_row(principal, meeting_id, action)

    async def _recording(self, principal: Principal, recording_id: str, action: str) -> aiosqlite.Row:
        row = await self.repo.get(recording_id) if subjects.TOKEN_RE.match(recording_id) else None
        if row is None:
            raise NotFoundException("no such recording")
        await self._managed(principal, row["meeting_id"], action)
        return row

    # -- start and stop -------------------------------------------------------------------------
    async def start(self, principal: Principal, meeting_id: str) -> RecordingRead:
        await self._may_record(principal, meeting_id, "record it")
        done = await self.begin(meeting_id, principal.account_id)
        await self._audit(principal, "recording.start", done)
        return done

    async def _audit(self, who: Principal | Who, action: str, done: RecordingRead) -> None:
        await audit.record(self.meetings.db, audit.actor_of(who), action, target_kind="recording", target_id=done.id,
                           meeting_id=done.meeting_id)

    async def _may_record(self, who: Principal | Who, meeting_id: str, action: str) -> aiosqlite.Row:
        """The meeting's row, if *who* manages it and its account role carries the record grant."""
        row = await self.meetings.row(meeting_id)
        if not await self.meetings.can_manage(who, row):  # type: ignore[arg-type]
            raise PermissionDeniedException(f"only the meeting's owner, its co-hosts and admins may {action}")
        if "record" not in CEILING.get(who.role, frozenset()):
            raise PermissionDeniedException(f"forbidden: a {who.role} account may not record meetings "
                                            "(no record grant)")
        return row

    async def begin(self, meeting_id: str, by: str) -> RecordingRead:
        """Start recording *meeting_id* (the checks of who may are the caller's)."""
        row = await self.meetings.row(meeting_id)
        e2ee.check_recordable(row)
        if row["state"] == "ended":
            raise FieldError("state", "the meeting has ended", status_code=409)
        active = await self.repo.active(meeting_id)
        if active is not None:
            raise FieldError("recording", f"the meeting is already being recorded ({active['id']})", status_code=409)
        try:
            edge_url, token_for = await self._edge_of(meeting_id)
        except Unavailable as exc:
            raise FieldError("state", f"the meeting is not live: {exc}", status_code=409) from None
        recording_id = secrets.token_hex(8)
        if not await self.repo.insert(recording_id, meeting_id, by, time.time()):
            raise FieldError("recording", "the meeting is already being recorded", status_code=409)
        request = wire.RecordStart(recording_id=recording_id, meeting_id=meeting_id, edge_url=edge_url,
                                   token=token_for(recording_id))
        try:
            reply = await self._request(subjects.RECORD_START, request, self.settings.start_timeout,
                                        "no recorder is running (start the recorder service)")
        except HTTPException:
            await self._forget(recording_id)
            raise
        if not isinstance(reply, wire.RecordReply) or not reply.ok:
            await self._forget(recording_id)
            detail = reply.error if isinstance(reply, wire.RecordReply) else f"{reply.error}: {reply.detail}"
            raise FieldError("recording", f"the recorder refused: {detail}", status_code=409)
        await self.repo.set_recorder(recording_id, reply.recorder_id)
        log.info("recording started", extra={"meeting_id": meeting_id, "recording_id": recording_id,
                                             "recorder_id": reply.recorder_id, "by": by})
        return await self.read(await self._row(recording_id))

    async def stop(self, principal: Principal, meeting_id: str) -> RecordingRead:
        await self._managed(principal, meeting_id, "stop its recording")
        done = await self.end(meeting_id, principal.username)
        await self._audit(principal, "recording.stop", done)
        return done

    async def end(self, meeting_id: str, by: str) -> RecordingRead:
        """Stop the recording being written of *meeting_id* (the checks of who may are the caller's)."""
        active = await self.repo.active(meeting_id)
        if active is None:
            raise FieldError("recording", "the meeting is not being recorded", status_code=409)
        error = ""
        try:
            reply = await self._request(subjects.record_stop(active["recorder_id"] or "none"),
                                        wire.RecordStop(recording_id=active["id"]), self.settings.stop_timeout,
                                        "the recorder is not running")
            if isinstance(reply, wire.RecordReply):
                error = reply.error if reply.ok else ""
        except ServiceUnavailableException:
            log.warning("recording stopped without its recorder", extra={"recording_id": active["id"]})
        if await self.repo.finish(active["id"], time.time(), reason=f"stopped by {by}", error=error):
            await self._notify_finished(active["id"])
        return await self.read(await self._row(active["id"]))

    async def _request(self, subject: str, request: msgspec.Struct, timeout: float,
                       nobody: str) -> wire.RecordReply | wire.ErrorReply:
        """Ask a recorder; 503 saying *nobody* when none listens, 504 when it does not answer."""
        try:
            msg = await self.bus.request(subject, wire.encode(request), timeout=timeout, what="recorder")
        except nats.errors.NoRespondersError:
            raise ServiceUnavailableException(nobody) from None
        except (nats.errors.TimeoutError, TimeoutError):
            raise HTTPException(status_code=504, detail=f"the recorder did not answer within {timeout:g} s") from None
        except nats.errors.Error:
            raise ServiceUnavailableException("not connected to NATS") from None
        try:
            return wire.record_reply_decoder.decode(msg.data)
        except msgspec.DecodeError:
            raise HTTPException(status_code=502, detail="the recorder sent an unreadable reply") from None

    async def _edge_of(self, meeting_id: str):  # noqa: ANN202 - (edge URL, token maker)
        try:
            found = await self.placement.current(meeting_id)
        except PlacementUnavailable as exc:
            raise Unavailable(f"placement is unavailable: {exc}") from None
        if found is None:
            raise Unavailable("nobody is in it")
        placement = found[0]
        edge = self.edges.get(placement.edge_id)
        if edge is None:
            raise Unavailable(f"its edge {placement.edge_id} is not live")

        def token_for(recording_id: str) -> str:
            return self.tokens.issue(account_role="host", sub=f"recorder:{recording_id}", name=RECORDER_NAME,
                                     meeting_id=meeting_id, edge_id=placement.edge_id, role="member",
                                     perms=RECORDER_GRANTS, epoch=placement.epoch, hidden=True).token
        return edge.heartbeat.public_url, token_for

    async def _forget(self, recording_id: str) -> None:
        await self.repo.finish(recording_id, time.time(), reason="not started")
        await self.repo.delete(recording_id)

    async def _row(self, recording_id: str) -> aiosqlite.Row:
        row = await self.repo.get(recording_id)
        if row is None:
            raise NotFoundException("no such recording")
        return row

    # -- meetings that record by themselves ----------------------------------------------------------
    async def on_event(self, event: wire.Event) -> None:
        """An event the control plane applied (:meth:`EventConsumer.on_applied`): someone joining a
        meeting that records by itself starts its recording, in the background."""
        if isinstance(event, wire.ParticipantJoined) and event.meeting_id not in self._auto_pending:
            self._auto_pending.add(event.meeting_id)
            task = asyncio.get_running_loop().create_task(self.auto_start(event.meeting_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def auto_start(self, meeting_id: str) -> None:
        """Start recording *meeting_id* if it records by itself and nothing was recorded since it
        started (so a host who stopped the recording is not overruled by the next one to join)."""
        try:
            row = await self.meetings.repo.get(meeting_id)
            if row is None or not row["auto_record"] or row["state"] == "ended":
                return
            if await self.repo.started_since(meeting_id, row["started_at"] or time.time() - 60):
                return
            owner = await self.accounts.get(row["owner_id"])
            if owner is None or "record" not in CEILING.get(owner["role"], frozenset()):
                log.warning("automatic recording not started: the owner may not record",
                            extra={"meeting_id": meeting_id})
                return
            await self.begin(meeting_id, "")
        except HTTPException as exc:
            log.warning("automatic recording not started", extra={"meeting_id": meeting_id, "error": str(exc.detail)})
        finally:
            self._auto_pending.discard(meeting_id)

    # -- a moderator in the room, through its edge ---------------------------------------------------
    async def from_edge(self, edge_id: str, req: wire.RecordControl) -> wire.RecordReply:
        """Start or stop, as a moderator asked on *edge_id*: the edge must host the meeting (its
        placement names it), and the account must be allowed, as through the API."""
        try:
            found = await self.placement.current(req.meeting_id) if subjects.TOKEN_RE.match(req.meeting_id) else None
        except PlacementUnavailable as exc:
            return wire.RecordReply(ok=False, code="unavailable", error=f"placement is unavailable: {exc}")
        if found is None or not found[0].names(edge_id):
            log.warning("record request from an edge that does not host the meeting",
                        extra={"edge_id": edge_id, "meeting_id": req.meeting_id})
            return wire.RecordReply(ok=False, code="forbidden", error="this edge does not host the meeting")
        account = await self.accounts.get(req.account_id)
        if account is None or account["disabled"]:
            return wire.RecordReply(ok=False, code="forbidden", error="only signed-in hosts may record meetings")
        who = Who(account_id=account["id"], role=account["role"], username=account["username"])
        try:
            if req.action == "start":
                await self._may_record(who, req.meeting_id, "record it")
                done = await self.begin(req.meeting_id, who.account_id)
            else:
                await self._may_record(who, req.meeting_id, "stop its recording")
                done = await self.end(req.meeting_id, who.username)
            await self._audit(who, f"recording.{req.action}", done)
        except HTTPException as exc:
            return wire.RecordReply(ok=False, code=_CODES.get(exc.status_code, "recording_refused"),
                                    error=str(exc.detail))
        return wire.RecordReply(ok=True, recorder_id=done.id)

    # -- what recorders report ------------------------------------------------------------------
    async def rejoin(self, recorder_id: str, req: wire.RecordRejoin) -> wire.RecordRejoinReply:
        row = await self.repo.get(req.recording_id) if subjects.TOKEN_RE.match(req.recording_id) else None
        if row is None or row["meeting_id"] != req.meeting_id or row["recorder_id"] not in ("", recorder_id):
            return wire.RecordRejoinReply(ok=False, error="no such recording of this recorder")
        if row["state"] != "recording":
            return wire.RecordRejoinReply(ok=False, error="the recording was stopped")
        meeting = await self.meetings.repo.get(req.meeting_id)
        if meeting is None or meeting["state"] == "ended":
            await self.repo.finish(row["id"], time.time(), reason="the meeting ended")
            return wire.RecordRejoinReply(ok=False, error="the meeting has ended")
        try:
            edge_url, token_for = await self._edge_of(req.meeting_id)
        except Unavailable as exc:
            return wire.RecordRejoinReply(ok=False, retry=True, error=str(exc))
        if not row["recorder_id"]:
            await self.repo.set_recorder(row["id"], recorder_id)
        log.info("recorder follows the meeting", extra={"recording_id": row["id"], "recorder_id": recorder_id,
                                                        "edge_url": edge_url})
        return wire.RecordRejoinReply(ok=True, edge_url=edge_url, token=token_for(row["id"]))

    async def done(self, recorder_id: str, report: wire.RecordDone) -> wire.RecordReply:
        row = await self.repo.get(report.recording_id) if subjects.TOKEN_RE.match(report.recording_id) else None
        if row is None or row["meeting_id"] != report.meeting_id or row["recorder_id"] not in ("", recorder_id):
            return wire.RecordReply(ok=False, error="no such recording of this recorder")
        if await self.repo.finish(row["id"], time.time(), reason=report.reason, error=report.error):
            log.info("recording finished", extra={"recording_id": row["id"], "reason": report.reason,
                                                  "error": report.error, "files": report.files,
                                                  "bytes": report.bytes})
            await self._notify_finished(row["id"])
        return wire.RecordReply(ok=True)

    # -- reading --------------------------------------------------------------------------------
    def folder(self, recording_id: str) -> Path:
        return self.root / recording_id

    def _manifest(self, recording_id: str) -> manifest.Manifest | None:
        try:
            return manifest.load(self.folder(recording_id) / "manifest.json")
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("unreadable manifest", extra={"recording_id": recording_id, "error": str(exc)})
            return None

    async def read(self, row: aiosqlite.Row) -> RecordingRead:
        found = await asyncio.to_thread(self._manifest, row["id"])
        tracks: list[RecordedTrack] = []
        size, end = 0, 0.0
        folder = self.folder(row["id"])
        if found is not None:
            with contextlib.suppress(OSError):
                size += os.stat(folder / "manifest.json").st_size
            for number, segment in enumerate(found.segments, start=1):
                for f in segment.files:
                    try:
                        nbytes = os.stat(folder / f.path).st_size
                    except OSError:
                        nbytes = 0
                    size += nbytes
                    end = max(end, f.start_offset_s + f.duration_s)
                    tracks.append(RecordedTrack(segment=number, participant_id=f.participant_id,
                                                participant_name=f.participant_name, source=f.source, kind=f.kind,
                                                codec=f.codec, file=f.path, start_offset_s=f.start_offset_s,
                                                duration_s=f.duration_s, bytes=nbytes))
        return RecordingRead(id=row["id"], meeting_id=row["meeting_id"], state=row["state"],
                             started_at=iso_utc(row["started_at"]), stopped_at=iso_utc(row["stopped_at"]),
                             started_by=row["started_by"], reason=row["reason"], error=row["error"],
                             duration_s=round(end, 3), bytes=size, segments=len(found.segments) if found else 0,
                             tracks=tracks, manifest_url=f"/api/v1/recordings/{row['id']}/files/manifest.json")

    async def of_meeting(self, principal: Principal, meeting_id: str) -> list[RecordingRead]:
        await self._managed(principal, meeting_id, "see its recordings")
        return [await self.read(row) for row in await self.repo.of_meeting(meeting_id)]

    async def recent(self, principal: Principal, *, limit: int, meeting_id: str = "") -> list[RecordingRead]:
        """Every meeting's recordings, newest first (admins)."""
        require_role(principal, "admin", "list every recording")
        return [await self.read(row) for row in await self.repo.recent(limit=limit, meeting_id=meeting_id)]

    async def get(self, principal: Principal, recording_id: str) -> RecordingRead:
        return await self.read(await self._recording(principal, recording_id, "see its recordings"))

    async def file(self, principal: Principal, recording_id: str, name: str) -> Path:
        """The path of a file of the recording (the manifest, or a file it lists)."""
        row = await self._recording(principal, recording_id, "download its recordings")
        found = await asyncio.to_thread(self._manifest, row["id"])
        names = {"manifest.json"} | {f.path for s in (found.segments if found else []) for f in s.files}
        path = self.folder(row["id"]) / name
        if name not in names or not path.is_file():
            raise NotFoundException("no such file in this recording")
        return path

    async def delete(self, principal: Principal, recording_id: str) -> None:
        row = await self._recording(principal, recording_id, "delete its recordings")
        if row["state"] == "recording":
            raise FieldError("state", "the recording is being written: stop it first", status_code=409)
        await self._remove(row["id"])
        await audit.record(self.meetings.db, audit.actor_of(principal), "recording.delete", target_kind="recording",
                           target_id=row["id"], meeting_id=row["meeting_id"])
        log.info("recording deleted", extra={"recording_id": row["id"], "by": principal.account_id})

    async def _remove(self, recording_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder(recording_id), True)
        await self.repo.delete(recording_id)

    # -- retention ------------------------------------------------------------------------------
    async def sweep(self, now: float | None = None) -> int:
        """Delete finished recordings older than the retention; returns how many."""
        if self.settings.retention_days <= 0:
            return 0
        before = (now if now is not None else time.time()) - self.settings.retention_days * 86400
        rows = await self.repo.expired(before)
        for row in rows:
            await self._remove(row["id"])
            log.info("recording expired", extra={"recording_id": row["id"], "meeting_id": row["meeting_id"]})
        return len(rows)

    def start_sweeper(self) -> None:
        async def loop() -> None:
            while True:
                try:
                    # Control planes side by side on one PostgreSQL: one of them sweeps.
                    if await self.repo.db.leader("sweeps"):
                        await self.sweep()
                except DatabaseUnavailable as exc:
                    log.warning("recording retention sweep skipped: database unavailable", extra={"error": str(exc)})
                except Exception:  # noqa: BLE001 - logged; the next round tries again
                    log.exception("recording retention sweep failed")
                await asyncio.sleep(self.settings.sweep_interval)
        self._sweeper = asyncio.get_running_loop().create_task(loop(), name="recording-retention")

    async def stop_sweeper(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
