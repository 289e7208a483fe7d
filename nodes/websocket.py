"""The WebSocket side of the HTTP server the runner starts (uvicorn's sans-I/O protocol on
``websockets``), with the limits every node serves under.

Two things differ from uvicorn's own: messages are read up to :data:`WS_MAX_BYTES` — well above
what an application accepts (the edge's ``signaling.max_message_bytes``, 64 KiB), so a message
that is too large still reaches the application, which answers it; only a larger one closes the
socket (1009, "message too big"). And a text message that is not UTF-8 reaches the application as
a binary one, which the application answers too, where uvicorn would log a traceback and close
the socket (1007).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: Largest WebSocket message read, bytes; a larger one closes the socket with 1009.
WS_MAX_BYTES = 4 << 20


def is_utf8(parts: Iterable[bytes]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for part in parts:
            decoder.decode(part)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol; a text message that is not UTF-8 reaches the app as bytes."""

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not is_utf8(self.frames):
            self.curr_msg_data_type = "bytes"
        super().send_receive_event_to_app()
