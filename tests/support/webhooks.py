"""A real HTTP endpoint for webhooks in the tests: records every request it gets."""

from __future__ import annotations

import asyncio
import time


class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 (*port*, or any free one) that records every request; it
    answers 500 to the first *failures* attempts of each ``webhook-id`` and 204 after, or
    (``hang``) never answers."""

    def __init__(self, *, failures: int = 2, hang: bool = False, port: int = 0) -> None:
        self.failures, self.hang = failures, hang
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        self._handlers: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None
        self.port = port

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def of(self, webhook_id: str) -> list[tuple[float, dict[str, str], bytes]]:
        return [r for r in self.requests if r[1].get("webhook-id") == webhook_id]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((time.monotonic(), headers, body))
                if self.hang:
                    await asyncio.Event().wait()
                status = 500 if len(self.of(headers.get("webhook-id", ""))) <= self.failures else 204
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def stop(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        if self.server is not None:
            self.server.close()
