"""One recording as the recorder service runs it: visits to the meeting's edges, one segment each.

A job joins the edge it was given (:class:`~recorder.session.Session`), writes a segment while it
is seated (:class:`~recorder.recording.Recording`), and when the visit ends decides what next:

* stopped, or the meeting ended (``meeting_ended``, removed): the recording is done;
* the edge went away (the socket dropped, the edge drains; or, following, the new edge has
  nobody of the meeting yet: ``meeting_empty``): the job asks the control plane where
  the meeting goes on (:meth:`Job.rejoin`, a fresh token for the meeting's new edge) and visits
  it, in a new segment, for up to ``follow_timeout`` seconds of looking;
* a track file could not be written (a full or unwritable disk): the recorder tells the edge
  (``recording_failed``, so the meeting's moderators see the error), leaves, and the recording is
  done with that error. The files written so far stay playable.

A segment in which the recorder was never seated (the edge refused it or could not be reached) is
dropped from the manifest. ``job.json`` in the recording's folder marks a recording in progress,
so a restarted recorder service resumes it (in a new segment).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .recording import Recording, Visit
from .session import Session

log = logging.getLogger(__name__)

#: Where the meeting goes on: (edge URL, token), or None to end the recording; raises
#: :class:`FollowLater` when asking again later may help.
Rejoin = Callable[[], Awaitable[tuple[str, str] | None]]
JOB_FILE = "job.json"


class FollowLater(Exception):
    """The meeting has no edge to go on at yet (it is moving): ask again shortly."""


class Job:
    def __init__(self, directory: Path, recording_id: str, meeting_id: str, rejoin: Rejoin, *,
                 follow_timeout: float = 60.0) -> None:
        self.directory, self.recording_id, self.meeting_id = directory, recording_id, meeting_id
        self.rejoin = rejoin
        self.follow_timeout = follow_timeout
        self.recording = Recording(directory, recording_id, meeting_id)
        self.session: Session | None = None
        self.seated = asyncio.Event()    # set at every seat; cleared when a visit begins
        self.done = asyncio.Event()
        self.reason = ""
        self.error = ""
        self._stopping = False
        #: Left without finishing (the service shuts down): ``job.json`` stays for a resume.
        self.suspended = False
        #: Seated at least once (so there is something to report).
        self.ever_seated = False
        #: Segments begun, the one being written, and the media bytes of those that ended (metrics).
        self.visits = 0
        self.current: Visit | None = None
        self.written_before = 0
        self._write_job_file()

    # -- the job file ---------------------------------------------------------------------------
    def _write_job_file(self) -> None:
        path = self.directory / JOB_FILE
        path.write_text(json.dumps({"recording_id": self.recording_id, "meeting_id": self.meeting_id}))

    @staticmethod
    def unfinished(root: Path) -> list[tuple[Path, str, str]]:
        """(folder, recording id, meeting id) of every recording under *root* still in progress."""
        found = []
        for path in sorted(root.glob(f"*/{JOB_FILE}")):
            try:
                data = json.loads(path.read_text())
                found.append((path.parent, str(data["recording_id"]), str(data["meeting_id"])))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable job file %s: %s", path, exc)
        return found

    # -- running ----------------------------------------------------------------------------------
    async def run(self, edge_url: str | None, token: str | None) -> None:
        """Visit the meeting until the recording is done; *edge_url* None: ask where first."""
        try:
            target = (edge_url, token) if edge_url and token else await self._follow()
            lost_at, delay = time.monotonic(), 0.25
            while target is not None and not self._stopping:
                ended, seated = await self._visit(*target)
                if self.error or self._stopping or not _moved(ended, following=self.ever_seated):
                    self.reason = self.reason or ended
                    break
                if seated:
                    log.info("recording %s lost its edge (%s): following the meeting", self.recording_id, ended)
                    lost_at, delay = time.monotonic(), 0.25
                elif time.monotonic() - lost_at > self.follow_timeout:
                    self.reason = f"the meeting was not found again: {ended}"
                    break
                else:   # not seated there either: wait a little before asking again
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                target = await self._follow()
            else:
                self.reason = self.reason or ("stopped" if self._stopping else "the meeting was not found")
        except Exception as exc:  # noqa: BLE001 - the job ends with its error; the files stay
            log.exception("recording %s failed", self.recording_id)
            self.error = self.error or f"internal error: {exc!r}"
        finally:
            if not self.suspended:
                with contextlib.suppress(OSError):
                    (self.directory / JOB_FILE).unlink()
            self.done.set()

    async def _visit(self, url: str, token: str) -> tuple[str, bool]:
        """One visit: (why it ended, whether the recorder was seated)."""
        visit = self.recording.visit()
        self.visits += 1
        self.current = visit
        session = Session(url, token, self.meeting_id, visit.sink)
        self.session = session
        self.seated.clear()
        watch = asyncio.get_running_loop().create_task(self._watch(session, visit))
        try:
            seen = await session.run()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            self.session = None
            self.written_before += sum(t.file.bytes for t in visit.tracks)
            self.current = None
        self.recording.add_speakers(seen.speakers, time.time())
        if session.joined.is_set():
            segment = self.recording.finish(visit)
            failed = [t.failed for t in visit.tracks if t.failed]
            if failed and not self.error:
                self.error = f"cannot write the recording: {failed[0]}"
            log.info("recording %s: segment %d ended (%s), %d files", self.recording_id, visit.number,
                     seen.ended or "ended", len(segment.files))
        else:
            self.recording.discard(visit)
        return seen.ended or "ended", session.joined.is_set()

    async def _watch(self, session: Session, visit: object) -> None:
        """Mark the seat, and end the visit at the first track that cannot be written."""
        await session.joined.wait()
        self.ever_seated = True
        self.seated.set()
        while True:
            failed = next((t.failed for t in getattr(visit, "tracks", []) if t.failed), "")
            if failed:
                self.error = f"cannot write the recording: {failed}"
                log.error("recording %s stopped: %s", self.recording_id, self.error)
                await session.fail(self.error)
                return
            await asyncio.sleep(0.2)

    async def _follow(self) -> tuple[str, str] | None:
        deadline = time.monotonic() + self.follow_timeout
        delay = 0.25
        while not self._stopping:
            try:
                return await self.rejoin()
            except FollowLater as exc:
                if time.monotonic() + delay > deadline:
                    self.reason = f"the meeting was not found again: {exc}"
                    return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        return None

    async def stop(self) -> None:
        """Leave the meeting and wait until the manifest is final."""
        self._stopping = True
        self.reason = self.reason or "stopped"
        if self.session is not None:
            await self.session.stop()
        await self.done.wait()

    async def suspend(self) -> None:
        """Leave the meeting, keeping ``job.json`` so that the next start resumes the recording."""
        self.suspended = True
        await self.stop()

    def bytes_written(self) -> int:
        """Media bytes written by this recorder for this recording (the segment being written included)."""
        live = sum(t.file.bytes for t in self.current.tracks) if self.current is not None else 0
        return self.written_before + live

    def totals(self) -> tuple[int, int]:
        """(files, bytes) of the whole recording so far."""
        files = [f for s in self.recording.manifest.segments for f in s.files]
        size = 0
        for f in files:
            with contextlib.suppress(OSError):
                size += os.stat(self.directory / f.path).st_size
        return len(files), size


def _moved(ended: str, *, following: bool) -> bool:
    """Did the visit end because the edge went away (not because the meeting or recording did)?
    While *following* the meeting, an edge that has nobody of it yet (``meeting_empty``) is one
    it is still moving to."""
    if following and ended.startswith("refused: meeting_empty"):
        return True
    return ended.startswith(("connection", "draining")) or ended == "ended"
