"""JetStream streams the product relies on, declared in one place.

The control plane declares them at start; tests and tools may too. Declaring is idempotent:
an existing stream with the same subjects is left as it is.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from . import subjects

#: Events are kept 30 days (attendance is copied into the database as they arrive).
EVENTS_MAX_AGE = 30 * 24 * 3600.0
#: Window within which a re-published event (same ``Nats-Msg-Id``) is stored once.
EVENTS_DUPLICATE_WINDOW = 15 * 60.0


def events_stream_config(name: str = subjects.EVENTS_STREAM, subject_filter: str = subjects.ALL_EVENTS) -> StreamConfig:
    return StreamConfig(
        name=name, subjects=[subject_filter], retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
        max_age=EVENTS_MAX_AGE, duplicate_window=EVENTS_DUPLICATE_WINDOW, discard=DiscardPolicy.OLD,
        max_msg_size=64 * 1024,
    )


async def ensure_events_stream(js: JetStreamContext) -> None:
    config = events_stream_config()
    try:
        await js.stream_info(subjects.EVENTS_STREAM)
    except NotFoundError:
        await js.add_stream(config)
