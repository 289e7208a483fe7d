"""The settings of one ``curious load`` run (kept apart so that the command line reads its
arguments without importing aiortc)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    control_plane: str
    meeting: str
    participants: int
    publishers: int
    ramp: float
    duration: float
    grace: float
    allow_hosts: frozenset[str]
    size: tuple[int, int]
    fps: int
    audio: bool
    token: str
    signed_in: bool
    name_prefix: str
