"""Breakout rooms, as the control plane commands them (``docs/protocol.md``, Breakout rooms).

The control plane decides everything — the rooms (each a meeting of its own), who goes where, the
tokens, the timer —, and sends its decision to the meeting the participants are in. This edge
only passes on its own part: :func:`move` tells each of its participants named in a
:class:`nodes.wire.Breakout` where to go (one ``breakout`` message each), :func:`notice` shows a
:class:`nodes.wire.Notice` to everyone in the meeting here. Who asks was checked by the caller
(:mod:`edge.commands`: a command of the control plane, on the subject of a meeting hosted here,
at the meeting's epoch); participants of another edge of the meeting are that edge's to tell.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from nodes import wire

from .. import protocol as m
from .interfaces import Refusal

if TYPE_CHECKING:
    from .meeting import Meeting

#: The longest notice passed on (the control plane's API allows less).
NOTICE_MAX_CHARS = 2000


def _message(move: wire.BreakoutMove) -> m.Breakout:
    def room(r: wire.BreakoutRoom) -> m.RoomRef:
        return m.RoomRef(room_id=r.room_id, name=r.name)

    return m.Breakout(action=move.action, room=room(move.room) if move.room else None, join=move.join,
                      rooms=[room(r) for r in move.rooms], ticket=move.ticket, ends_at=move.ends_at,
                      main_meeting_id=move.main_meeting_id)


def move(meeting: Meeting, cmd: wire.Breakout) -> int:
    """Tell each participant of *meeting* on this edge that *cmd* names where to go; returns how
    many were told (0: none of them is here)."""
    if any(mv.action == "join" and not mv.join for mv in cmd.moves):
        raise Refusal("invalid", "a move to a breakout room needs its join answer", "moves")
    told = 0
    for mv in cmd.moves:
        p = meeting.participants.get(mv.participant_id)
        if p is None or p.state != "in" or p.hidden:
            continue
        p.send(_message(mv))
        told += 1
    return told


def notice(meeting: Meeting, cmd: wire.Notice) -> int:
    """Show *cmd*'s text to everyone in *meeting* on this edge; returns how many saw it."""
    text = cmd.text.strip()
    if not text:
        raise Refusal("invalid", "a notice cannot be empty", "text")
    if len(text) > NOTICE_MAX_CHARS:
        raise Refusal("too_long", f"a notice has at most {NOTICE_MAX_CHARS} characters ({len(text)} sent)", "text")
    shown = [p for p in meeting.inside() if not p.hidden]
    msg = m.Notice(text=text, sender_name=cmd.sender_name, at=time.time())
    for p in shown:
        p.send(msg)
    return len(shown)
