"""One pull loop for the control plane's durable consumers of the events stream (the events
themselves, :mod:`.consumer`; webhooks, :mod:`control_plane.webhooks.dispatcher`).

Control planes side by side on one PostgreSQL bind the same durable consumer, and only the one
holding the database's lock for it reads (:meth:`~control_plane.db.Database.leader`), so each
message is handled once and in stream order; another takes over within a second or so of the
reader's database session ending. A fetch that fails (NATS disconnected, JetStream restarting) is
tried again with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors

from ..db import Database

log = logging.getLogger(__name__)


async def read_as_leader(psub: Any, db: Database, lock: str, handle: Callable[[Any], Awaitable[None]], *,
                         what: str, batch: int = 64) -> None:
    """Fetch from the pull subscription *psub* while this control plane holds *lock*, and hand each
    message to *handle*, in order (*what* names the stream in the log). Runs until cancelled."""
    delay = 0.2
    leading: bool | None = None
    while True:
        if not await db.leader(lock):
            if leading is not False:
                log.info(f"another control plane reads {what}; standing by")
            leading = False
            await asyncio.sleep(1.0)
            continue
        if leading is not True:
            log.info(f"reading {what}" + (" (took over)" if leading is False else ""))
        leading = True
        try:
            msgs = await psub.fetch(batch=batch, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - disconnected, JetStream restarting: retry
            log.warning(f"{what}: fetch failed", extra={"error": repr(exc), "retry_in": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        delay = 0.2
        for msg in msgs:
            await handle(msg)
