"""HTTP: start and stop a meeting's recording; list, read, download and delete recordings."""

from __future__ import annotations

import mimetypes

from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter
from litestar.response import File
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from ..auth.principal import Principal
from ..services import Services
from .schemas import RecordingRead
from .service import RecordingService

_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska", ".mp4": "video/mp4", ".json": "application/json"}


def _recordings(request: Request) -> RecordingService:
    services: Services = request.app.state.services
    assert services.recordings is not None
    return services.recordings


class MeetingRecordingController(Controller):
    path = "/api/v1/meetings"
    tags = ["recordings"]

    @post("/{meeting_id:str}/recording", summary="Start recording the meeting", status_code=HTTP_201_CREATED)
    async def start(self, request: Request, principal: Principal, meeting_id: str) -> RecordingRead:
        return await _recordings(request).start(principal, meeting_id)

    @post("/{meeting_id:str}/recording/stop", summary="Stop recording the meeting", status_code=HTTP_200_OK)
    async def stop(self, request: Request, principal: Principal, meeting_id: str) -> RecordingRead:
        return await _recordings(request).stop(principal, meeting_id)

    @get("/{meeting_id:str}/recordings", summary="The meeting's recordings (its hosts and admins)")
    async def of_meeting(self, request: Request, principal: Principal, meeting_id: str) -> list[RecordingRead]:
        return await _recordings(request).of_meeting(principal, meeting_id)


class RecordingController(Controller):
    path = "/api/v1/recordings"
    tags = ["recordings"]

    @get("/", summary="Recordings of every meeting, newest first (admin)")
    async def list_all(self, request: Request, principal: Principal,
                       limit: int = Parameter(default=100, ge=1, le=1000),
                       meeting: str = Parameter(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$"),
                       ) -> list[RecordingRead]:
        return await _recordings(request).recent(principal, limit=limit, meeting_id=meeting)

    @get("/{recording_id:str}", summary="A recording: its state, size, duration and tracks")
    async def get_one(self, request: Request, principal: Principal, recording_id: str) -> RecordingRead:
        return await _recordings(request).get(principal, recording_id)

    @get("/{recording_id:str}/files/{name:str}", summary="Download the manifest or a file of a recording")
    async def download(self, request: Request, principal: Principal, recording_id: str, name: str) -> File:
        path = await _recordings(request).file(principal, recording_id, name)
        media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return File(path=path, filename=name, media_type=media_type)

    @delete("/{recording_id:str}", summary="Delete a finished recording and its files",
            status_code=HTTP_204_NO_CONTENT)
    async def remove(self, request: Request, principal: Principal, recording_id: str) -> None:
        await _recordings(request).delete(principal, recording_id)
