"""The one place that picks the forwarding core's concrete room class (swap it here)."""

from __future__ import annotations

from ..sfu.interfaces import ForwardingRoom, RoomEvents, SfuConfig
from ..sfu.room import Room
from .meeting import RoomMaker


def room_factory(config: SfuConfig) -> RoomMaker:
    """A function that creates the :class:`~edge.sfu.interfaces.ForwardingRoom` of a meeting."""

    def make(room_id: str, events: RoomEvents) -> ForwardingRoom:
        return Room(room_id, events, config)

    return make
