"""Relays, the mesh and the meeting rules reach a forwarding room through
:mod:`edge.sfu.interfaces` only, never through its private members."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def private_room_uses(source: str) -> list[str]:
    """``room._x`` / ``self.room._x`` (and the like) in *source*: a room's private members used."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if name in ("room", "_room"):
                found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def test_nothing_outside_the_room_uses_its_private_members() -> None:
    offenders = {}
    for path in sorted((ROOT / "edge").rglob("*.py")):
        if path == ROOT / "edge" / "sfu" / "room.py":
            continue
        uses = private_room_uses(path.read_text())
        if uses:
            offenders[str(path.relative_to(ROOT))] = uses
    assert offenders == {}, f"use the room's interface (edge/sfu/interfaces.py) instead: {offenders}"


def test_the_check_finds_a_private_use() -> None:
    code = "def f(self, room):\n    room._sync_all()\n    self.room._remove_source(1)\n    room.sources\n"
    assert private_room_uses(code) == ["room._sync_all (line 2)", "self.room._remove_source (line 3)"]


def test_the_concrete_room_is_a_cascading_room() -> None:
    from edge.sfu.interfaces import CascadingRoom, RelayHost  # noqa: F401 - RelayHost is what relays get
    from edge.sfu.room import Room

    room = Room("r", events=object())  # type: ignore[arg-type]
    assert isinstance(room, CascadingRoom)
    assert not isinstance(object(), CascadingRoom)
