"""One JSON shape for every error answer::

    {"status": 400, "error": "validation_failed", "detail": "…", "fields": [{"field": "title", "message": "…"}]}

``fields`` names the offending request fields (from msgspec validation or a service's check).
"""

from __future__ import annotations

import logging
import re

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from .db import DatabaseUnavailable

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
          422: "unprocessable", 429: "too_many_requests", 503: "unavailable", 504: "timeout"}
_AT = re.compile(r"at `\$\.([^`]+)`")
_MISSING = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _field_path(message: str) -> str | None:
    """``settings.role`` from "Object contains unknown field `role` - at `$.settings`"."""
    at, named = _AT.search(message), _MISSING.search(message)
    parts = [m.group(1) for m in (at, named) if m]
    return ".".join(parts) if parts else None


class FieldError(HTTPException):
    """A 400 (or other) naming one request field."""

    status_code = 400

    def __init__(self, field: str, message: str, status_code: int = 400) -> None:
        super().__init__(detail=f"{field}: {message}", status_code=status_code,
                         extra=[{"key": field, "message": message}])


def _fields(extra: object, detail: str) -> list[dict[str, str]]:
    out = []
    items = extra if isinstance(extra, list) else ([extra] if isinstance(extra, dict) else [])
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        key = item.get("key")
        path = _field_path(message)
        if path:
            key = path if key in (None, "data", "body") else f"{key}.{path}"
        elif key == "data":  # the body as a whole, e.g. an array where an object belongs
            key = "body"
        out.append({"field": str(key or "body"), "message": message})
    if not out and (path := _field_path(detail)):
        out.append({"field": path, "message": detail})
    return out


def _too_large(request: Request) -> str:
    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # noqa: BLE001 - no route matched
        limit = None
    if not limit:
        return "the request body is larger than this server accepts"
    return f"the request body is larger than {limit} bytes, the most this server accepts"


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = _too_large(request) if status == 413 and exc.detail == "Request Entity Too Large" else exc.detail
    body = {"status": status, "error": "validation_failed" if isinstance(exc, ValidationException)
            else _CODES.get(status, "error"), "detail": detail}
    fields = _fields(exc.extra, str(exc.detail))
    if fields:
        body["fields"] = fields
    return Response(body, status_code=status, headers=getattr(exc, "headers", None))


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return Response({"status": 500, "error": "internal", "detail": "internal error"},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


def database_unavailable(request: Request, exc: DatabaseUnavailable) -> Response:
    """The database is down or restarting: 503 (a warning, not a traceback); it comes back by itself."""
    log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc)})
    return Response({"status": 503, "error": "database_unavailable",
                     "detail": "the database is unavailable; try again in a few seconds"},
                    status_code=HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})


HANDLERS = {HTTPException: http_error, DatabaseUnavailable: database_unavailable, Exception: internal_error}
