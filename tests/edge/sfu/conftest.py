from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edge.sfu.interfaces import SfuConfig
from edge.sfu.room import Room
from tests.edge.sfu.client import Events, Meeting


@pytest.fixture
def sfu_config() -> SfuConfig:
    return SfuConfig()


@pytest.fixture
async def meeting(sfu_config: SfuConfig) -> AsyncIterator[Meeting]:
    """A Room driven directly by real aiortc clients in this process."""
    events = Events()
    m = Meeting(Room("room-1", events, sfu_config), events)
    try:
        yield m
    finally:
        await m.close()
