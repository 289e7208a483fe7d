"""Builds the breakout rooms service and its timer inside the app's lifespan (after the meetings)."""

from __future__ import annotations

import contextlib

from ..services import Services
from .people import People
from .service import BreakoutService
from .timer import BreakoutTimer


async def start_breakouts(stack: contextlib.AsyncExitStack, services: Services) -> None:
    assert services.meetings and services.commands and services.joins
    grace = services.settings.meetings.breakout_room_grace
    services.breakouts = BreakoutService(services.db, services.meetings, services.commands,
                                         People(services.db, services.joins, services.edges), room_grace=grace)
    services.meetings.ended_listeners.append(services.breakouts.meeting_ended)
    timer = BreakoutTimer(services.breakouts)
    timer.start()
    stack.push_async_callback(timer.stop)
