"""Builds webhook delivery inside the app's lifespan (after the meetings and events services)."""

from __future__ import annotations

import contextlib

from ..services import Services
from .dispatcher import WebhookDispatcher


async def start_webhooks(stack: contextlib.AsyncExitStack, services: Services) -> WebhookDispatcher:
    settings = services.settings
    dispatcher = WebhookDispatcher(services.db, settings.webhooks, apply_wait=settings.events.placement_wait + 60.0)
    services.extra["webhooks"] = dispatcher
    services.bus.on_connect(dispatcher.attach)
    if services.meetings is not None:
        services.meetings.ended_listeners.append(dispatcher.meeting_ended)
    if services.recordings is not None:
        services.recordings.on_finished(dispatcher.recording_ready)
    dispatcher.start()
    stack.push_async_callback(dispatcher.stop)
    return dispatcher
