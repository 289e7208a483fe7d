"""Participants of the same meeting hosted by other edges (cascading), as this edge's clients see them.

Each other edge of the meeting describes its part (its participants, their tracks and mute states,
who left and why) in a mesh state; :func:`apply` turns the difference between what this edge knew
and the new description into the same protocol messages a local change makes
(``participant_joined`` / ``participant_left`` / ``participant_updated``, ``track_published`` /
``track_unpublished``, ``muted``, ``hand``), so a client cannot tell where another participant is connected.

The meeting reaches the other edges only through a :class:`MeshLink` (implemented over NATS in
:mod:`edge.mesh`), so this module imports nothing about NATS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from .. import protocol as m

if TYPE_CHECKING:
    from .moderation import ModeratorAction


@dataclass
class RemoteTrack:
    track_id: str
    participant_id: str
    kind: Literal["audio", "video"]
    source: str
    codec: str = ""


@dataclass
class RemoteParticipant:
    id: str
    edge_id: str
    name: str = ""
    role: str = "member"
    moderator: bool = False
    state: Literal["in", "lobby"] = "in"
    muted: set[str] = field(default_factory=set)
    #: source → who last changed its mute state (a participant id or the control plane's ``by``)
    muted_by: dict[str, str] = field(default_factory=dict)
    since: float = 0.0
    entered_at: float = 0.0
    tracks: dict[str, RemoteTrack] = field(default_factory=dict)
    #: The ``jti`` of its join token (one seat per token across edges).
    token_id: str = ""
    #: When it raised its hand (0: not raised), and who last changed it.
    hand: float = 0.0
    hand_by: str = ""

    def track_out(self, t: RemoteTrack) -> m.TrackOut:
        return m.TrackOut(track_id=t.track_id, participant_id=self.id, kind=t.kind, source=t.source,  # type: ignore[arg-type]
                          codec=t.codec, muted=t.source in self.muted)

    def out(self, with_tracks: bool = True) -> m.ParticipantOut:
        return m.ParticipantOut(participant_id=self.id, name=self.name, role=self.role, moderator=self.moderator,
                                muted=sorted(self.muted),  # type: ignore[arg-type]
                                tracks=[self.track_out(t) for t in self.tracks.values()] if with_tracks else [],
                                hand=self.hand)

    def lobby_entry(self) -> m.LobbyEntry:
        return m.LobbyEntry(participant_id=self.id, name=self.name, since=self.since)


class MeshLink(Protocol):
    """The meeting's other edges, as the meeting on this edge reaches them."""

    def changed(self) -> None:
        """Something about this edge's part of the meeting changed: tell the others."""

    def chat(self, msg: m.ChatMessage) -> None:
        """Deliver a chat message to the other edges' participants (``to``: only its recipient)."""

    def react(self, msg: m.Reaction) -> None:
        """Show a reaction of a participant here to the other edges' participants."""

    async def act(self, target: RemoteParticipant, action: ModeratorAction) -> None:
        """Have the edge hosting *target* carry out a moderator's action; raises
        :class:`~.interfaces.Refusal` when it refuses or does not answer."""

    async def end(self, *, by: str, reason: str) -> None:
        """End the meeting on the other edges too."""


@dataclass
class Changes:
    """What applying one edge's state means for this edge's clients, in order."""

    messages: list[m._Out] = field(default_factory=list)
    lobby: bool = False
    #: track id → muted, for relayed tracks whose mute state changed
    muted_tracks: dict[str, bool] = field(default_factory=dict)


def apply(known: dict[str, RemoteParticipant], edge_id: str, now: list[RemoteParticipant],
          reasons: dict[str, str]) -> Changes:
    """Replace what *known* holds for *edge_id* with *now*; *reasons*: why departed ones left."""
    out = Changes()
    old = {pid: p for pid, p in known.items() if p.edge_id == edge_id}
    for p in now:
        before = old.pop(p.id, None)
        known[p.id] = p
        if before is None or before.state != p.state:
            if before is not None or p.state == "lobby":
                out.lobby = True
            if p.state == "in":
                out.messages.append(m.ParticipantJoined(participant=p.out(with_tracks=False)))
                out.messages += [m.TrackPublished(track=p.track_out(t)) for t in p.tracks.values()]
                out.muted_tracks.update({t.track_id: t.source in p.muted for t in p.tracks.values()})
            continue
        if p.state != "in":
            out.lobby = out.lobby or p.name != before.name
            continue
        out.messages += [m.TrackUnpublished(participant_id=p.id, track_id=t)
                         for t in before.tracks if t not in p.tracks]
        out.messages += [m.TrackPublished(track=p.track_out(t)) for tid, t in p.tracks.items()
                         if tid not in before.tracks]
        if (p.role, p.moderator, p.name) != (before.role, before.moderator, before.name):
            out.messages.append(m.ParticipantUpdated(participant=p.out()))
        if p.hand != before.hand:
            out.messages.append(m.HandChanged(participant_id=p.id, raised=bool(p.hand), at=p.hand, by=p.hand_by))
        for source in sorted(p.muted ^ before.muted):
            out.messages.append(m.Muted(participant_id=p.id, source=source, muted=source in p.muted,  # type: ignore[arg-type]
                                        by=p.muted_by.get(source, "")))
        out.muted_tracks.update({t.track_id: t.source in p.muted for t in p.tracks.values()
                                 if (t.source in p.muted) != (t.source in before.muted)
                                 or t.track_id not in before.tracks})
    for pid, gone in old.items():
        del known[pid]
        out.messages += _departure(gone, reasons.get(pid, "left"))
        out.lobby = out.lobby or gone.state == "lobby"
    return out


def drop(known: dict[str, RemoteParticipant], edge_id: str, reason: str,
         reasons: dict[str, str] | None = None) -> Changes:
    """Everyone *edge_id* hosted is gone (the edge closed the meeting or stopped answering)."""
    return apply(known, edge_id, [], {pid: (reasons or {}).get(pid, reason) for pid in known})


def _departure(p: RemoteParticipant, reason: str) -> list[m._Out]:
    if p.state != "in":
        return []
    return [*(m.TrackUnpublished(participant_id=p.id, track_id=t) for t in p.tracks),
            m.ParticipantLeft(participant_id=p.id, reason=reason)]
