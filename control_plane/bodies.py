"""Request bodies are checked before they are decoded, for every route at once.

The app's request class (:func:`request_class`) answers ``400`` naming what is wrong with a JSON
body that is not UTF-8, nests arrays and objects deeper than ``clients.max_json_depth`` or is not
JSON at all; Litestar answers ``413`` past ``clients.max_body_bytes`` (the message comes from
:mod:`control_plane.errors`). Wrong types and missing fields are the schemas' business (400
naming the field). None of these is an error of the server: nothing is logged above INFO.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException, SerializationException
from litestar.types import Empty

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPEN = frozenset(b"[{")


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in the JSON *body* nest more than *limit* deep (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for ch in _NOT_BRACKET.sub(b"", _STRING.sub(b"", body)):
        if ch in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def check_json_body(body: bytes, max_depth: int) -> None:
    """Refuse (400) a body that cannot be JSON this server accepts, saying why."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientException(f"the request body is not valid UTF-8 (at byte {exc.start})") from None
    if nesting_exceeds(body, max_depth):
        raise ClientException(f"the JSON body nests arrays and objects more than {max_depth} deep")


def request_class(max_json_depth: int) -> type[Request[Any, Any, Any]]:
    """A Litestar request class whose ``json()`` checks the body first (see the module's doc)."""

    class CheckedRequest(Request[Any, Any, Any]):
        async def json(self) -> Any:
            if self._json is Empty and self._connection_state.json is Empty:
                check_json_body(await self.body(), max_json_depth)
                try:
                    return await super().json()
                except SerializationException as exc:
                    raise ClientException(f"the request body is not valid JSON: {exc}") from None
                except RecursionError:
                    raise ClientException("the JSON body nests arrays and objects too deep") from None
            return await super().json()

    return CheckedRequest
