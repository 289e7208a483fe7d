"""Room implements the ForwardingRoom protocol the conference layer is written against."""

from __future__ import annotations

import inspect

import pytest

from edge.sfu.interfaces import ForwardingRoom, RoomEvents, SfuConfig
from edge.sfu.room import Room
from tests.edge.sfu.client import Events


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def test_room_has_every_method_of_the_protocol_with_the_same_parameters() -> None:
    wanted = public_methods(ForwardingRoom)
    assert len(wanted) == 14
    have = public_methods(Room)
    for name, signature in wanted.items():
        assert name in have, f"Room lacks {name}"
        assert list(have[name].parameters) == list(signature.parameters), name
        assert inspect.iscoroutinefunction(getattr(Room, name)) == inspect.iscoroutinefunction(
            getattr(ForwardingRoom, name)), f"{name}: async in one, not the other"


def test_the_test_events_implement_room_events() -> None:
    for name in public_methods(RoomEvents):
        assert callable(getattr(Events(), name))


async def test_a_room_refuses_bad_configuration() -> None:
    for config, message in [
        (SfuConfig(subscriber_queue=0), "subscriber_queue must be at least 1"),
        (SfuConfig(keyframe_min_interval=-1), "keyframe_min_interval must not be negative"),
        (SfuConfig(speaker_threshold=200), "speaker_threshold must be within 0..127"),
        (SfuConfig(ice_servers=({"url": "stun:x"},)), "needs 'urls'"),
        (SfuConfig(ice_transport_policy="nohost"), "must be 'all' or 'relay'"),
        (SfuConfig(ice_servers=({"urls": "stun:x"},), ice_transport_policy="relay"), "needs a TURN server"),
    ]:
        with pytest.raises(ValueError, match=message):
            Room("r", Events(), config)
