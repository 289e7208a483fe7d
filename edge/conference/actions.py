"""What can be done in a meeting: chat, mute, media negotiation, and the moderator's actions.

These functions change a :class:`~.meeting.Meeting` and tell everyone concerned. They do not check
who asks: a participant's requests are checked against its grants in :mod:`.seat`; the control
plane's commands (:mod:`edge.commands`) are trusted. A refusal raises :class:`Refusal`.
"""

from __future__ import annotations

import contextlib
import secrets
import time

from nodes import wire

from .. import protocol as m
from ..sfu.interfaces import ForwardingRoom, GrantError, IceCandidate, SdpError
from .interfaces import CLOSE_DENIED, CLOSE_KICKED, Refusal
from .meeting import Meeting
from .participant import KIND_OF_SOURCE, Participant
from .sdp import check_publish

#: ``by`` of what the control plane asks for over NATS.
CONTROL_PLANE = "control-plane"


def ack(p: Participant, re: m.RequestId) -> None:
    """Confirm a request that has no reply of its own, when the client gave it an id."""
    if re is not None:
        p.reply(m.Ok(), re)


# -- recording --------------------------------------------------------------------------------
async def record(meeting: Meeting, p: Participant, action: str, *, re: m.RequestId) -> None:
    """A moderator starts or stops recording: the control plane decides and starts the recorder
    (docs/recording.md); its refusal comes back as this request's error."""
    if meeting.recording_control is None:
        raise Refusal("unavailable", "recording is not available on this edge")
    await meeting.recording_control(meeting.id, action, p.account_id, p.id)
    ack(p, re)


# -- chat -------------------------------------------------------------------------------------
def chat(meeting: Meeting, sender: Participant, text: str, to: str, *, max_chars: int,
         re: m.RequestId = None) -> None:
    if not text.strip():
        raise Refusal("invalid", "a chat message cannot be empty", "text")
    if len(text) > max_chars:
        raise Refusal("too_long", f"a chat message has at most {max_chars} characters ({len(text)} sent)", "text")
    msg = m.ChatMessage(message_id=secrets.token_urlsafe(9), sender=sender.id, sender_name=sender.name,
                        text=text, to=to, at=time.time())
    if not to:
        meeting.broadcast(msg, requester=sender, re=re)
        if meeting.mesh is not None:
            meeting.mesh.chat(msg)
        return
    target = meeting.participants.get(to)
    if target is None or target.state != "in":
        remote = meeting.remote.get(to)
        if remote is None or remote.state != "in" or meeting.mesh is None:
            raise Refusal("not_found", f"no participant {to!r} in this meeting", "to")
        meeting.mesh.chat(msg)  # the edge hosting the recipient delivers it
        sender.send(msg, re=re)
        return
    target.send(msg, re=re if target is sender else None)
    if target is not sender:
        sender.send(msg, re=re)


# -- raised hands and reactions ------------------------------------------------------------------
#: Seconds between two reactions of one participant (more often is refused: ``rate_limited``).
REACTION_INTERVAL = 0.25


def hand(meeting: Meeting, target: Participant, raised: bool, *, by: str, requester: Participant | None = None,
         re: m.RequestId = None) -> bool:
    """Raise or lower *target*'s hand; everyone in the meeting hears it (``hand``), the other edges
    through the mesh state. Returns False when nothing changed (then only the requester hears back)."""
    if bool(target.hand) == raised:
        if requester is not None:
            ack(requester, re)
        return False
    target.hand = time.time() if raised else 0.0
    target.hand_by = by
    meeting.broadcast(m.HandChanged(participant_id=target.id, raised=raised, at=target.hand, by=by),
                      requester=requester, re=re)
    meeting.changed()
    return True


def react(meeting: Meeting, sender: Participant, reaction: str, *, re: m.RequestId = None) -> None:
    now = time.monotonic()
    if now - sender.reacted < REACTION_INTERVAL:
        raise Refusal("rate_limited", f"at most one reaction every {REACTION_INTERVAL:g} s", "reaction")
    sender.reacted = now
    msg = m.Reaction(participant_id=sender.id, reaction=reaction, at=time.time())  # type: ignore[arg-type]
    meeting.broadcast(msg, requester=sender, re=re)
    if meeting.mesh is not None:
        meeting.mesh.react(msg)


# -- mute -------------------------------------------------------------------------------------
def mute(meeting: Meeting, target: Participant, source: str, muted: bool, *, by: str,
         requester: Participant | None = None, re: m.RequestId = None) -> bool:
    """Set *target*'s mute state for *source*; the forwarding room stops (or resumes) its tracks.

    Returns False when nothing changed (then only the requester hears back).
    """
    if (source in target.muted) == muted:
        if requester is not None:
            ack(requester, re)
        return False
    if muted:
        target.muted.add(source)
    else:
        target.muted.discard(source)
    target.muted_by[source] = by
    if meeting.room is not None:
        for t in list(target.tracks.values()):
            if t.source == source:
                with contextlib.suppress(LookupError):  # unpublished meanwhile: nothing to stop
                    meeting.room.set_track_muted(t.track_id, muted)
    notice = m.Muted(participant_id=target.id, source=source, muted=muted, by=by)  # type: ignore[arg-type]
    if target.state == "in":
        meeting.broadcast(notice, requester=requester, re=re)
    else:
        target.send(notice)
        if requester is not None and requester is not target:
            ack(requester, re)
    meeting.event(wire.ParticipantMuted, participant_id=target.id, kind=KIND_OF_SOURCE[source], muted=muted,
                  by=by)
    return True


# -- moderation -------------------------------------------------------------------------------
async def kick(meeting: Meeting, target: Participant, *, by: str, reason: str = "") -> None:
    target.send(m.Kicked(by=by, reason=reason))
    await meeting.leave(target, "kicked", code=CLOSE_KICKED, close_reason=reason or "kicked", by=by)


async def admit(meeting: Meeting, target: Participant, *, by: str) -> None:
    if target.state != "lobby":
        raise Refusal("invalid", f"participant {target.id!r} is not waiting in the lobby", "participant_id")
    target.send(m.Admitted(by=by))
    await meeting.enter(target)


async def deny(meeting: Meeting, target: Participant, *, by: str, reason: str = "") -> None:
    if target.state != "lobby":
        raise Refusal("invalid", f"participant {target.id!r} is not waiting in the lobby", "participant_id")
    target.send(m.Denied(reason=reason))
    await meeting.leave(target, "denied", code=CLOSE_DENIED, close_reason=reason or "denied", by=by)


def is_guest(role: str, account_id: str) -> bool:
    """The control plane's rule: a guest (role ``guest``, a ``guest:`` account, or none) may not moderate."""
    return role == "guest" or not account_id or account_id.startswith("guest:")


def check_promotable(role: str, account_id: str) -> None:
    if is_guest(role, account_id):
        raise Refusal("forbidden", "a guest cannot be promoted (guests may not moderate)", "participant_id")


def promote(meeting: Meeting, target: Participant, *, by: str) -> bool:
    """Give *target* the moderate grant; False if it already had it. A guest is refused."""
    check_promotable(target.role, target.account_id)
    if target.moderator:
        return False
    target.moderator = True
    if target.state == "in":
        meeting.broadcast(m.ParticipantUpdated(participant=target.out()))
        target.send(m.LobbyList(waiting=meeting.lobby_entries()))
    meeting.changed()
    return True


# -- media ------------------------------------------------------------------------------------
def _room(meeting: Meeting, p: Participant) -> ForwardingRoom:
    if meeting.room is None:
        raise Refusal("media_unavailable", f"this meeting has no media on this edge: {meeting.media_error}")
    if not p.has_peer:
        raise Refusal("media_unavailable", "your media is not set up (yet)")
    return meeting.room


async def publish(meeting: Meeting, p: Participant, offer: m.Offer) -> None:
    if offer.pc != "publish":
        raise Refusal("invalid", "clients offer only on the publish PC (answer the edge's subscribe offer)", "pc")
    check_publish(offer.sdp, dict(offer.sources), p.publish)
    room = _room(meeting, p)
    try:
        answer = await room.publisher_offer(p.id, offer.sdp, dict(offer.sources))
    except SdpError as exc:
        raise Refusal("bad_sdp", f"offer refused: {exc}", "sdp") from None
    except GrantError as exc:
        raise Refusal("forbidden", str(exc), "sources") from None
    p.send(m.ServerAnswer(pc="publish", sdp=answer), re=offer.id)


async def subscribe_answer(meeting: Meeting, p: Participant, answer: m.Answer) -> None:
    if answer.pc != "subscribe":
        raise Refusal("invalid", "clients answer only on the subscribe PC (the edge answers publish offers)", "pc")
    room = _room(meeting, p)
    try:
        await room.subscriber_answer(p.id, answer.sdp)
    except SdpError as exc:
        raise Refusal("bad_sdp", f"answer refused: {exc}", "sdp") from None
    ack(p, answer.id)


async def ice(meeting: Meeting, p: Participant, msg: m.Ice) -> None:
    room = _room(meeting, p)
    c = msg.candidate
    # ``null`` (end of candidates) is an empty candidate for the forwarding room.
    candidate = IceCandidate(candidate="") if c is None else \
        IceCandidate(candidate=c.candidate, sdp_mid=c.sdp_mid, sdp_mline_index=c.sdp_mline_index)
    try:
        await room.add_ice_candidate(p.id, msg.pc, candidate)
    except (ValueError, SdpError) as exc:
        raise Refusal("bad_candidate", f"candidate refused: {exc}", "candidate") from None
    ack(p, msg.id)


#: Most tiles (shown plus hidden) a ``view`` may name, and the largest tile side in device pixels.
MAX_VIEW_TRACKS = 500
MAX_TILE = 16384


def view(meeting: Meeting, p: Participant, msg: m.View) -> None:
    """What the participant shows; every track named must be one the meeting has."""
    room = _room(meeting, p)
    if len(msg.tracks) + len(msg.hidden) > MAX_VIEW_TRACKS:
        raise Refusal("invalid", f"a view names at most {MAX_VIEW_TRACKS} tracks", "tracks")
    known = {t.track_id for t in room.tracks()}
    known.update(track_id for q in meeting.roster() for track_id in q.tracks)
    tiles: dict[str, tuple[int, int]] = {}
    for i, tile in enumerate(msg.tracks):
        if tile.track_id not in known:
            raise Refusal("not_found", f"no track {tile.track_id!r} in this meeting", f"tracks[{i}].track_id")
        for name, value in (("width", tile.width), ("height", tile.height)):
            if not 0 <= value <= MAX_TILE:
                raise Refusal("invalid", f"a tile's {name} is 0 to {MAX_TILE} device pixels", f"tracks[{i}].{name}")
        tiles[tile.track_id] = (tile.width, tile.height)
    hidden: set[str] = set()
    for i, track_id in enumerate(msg.hidden):
        if track_id not in known:
            raise Refusal("not_found", f"no track {track_id!r} in this meeting", f"hidden[{i}]")
        if track_id in tiles:
            raise Refusal("invalid", f"track {track_id!r} is both shown and hidden", f"hidden[{i}]")
        hidden.add(track_id)
    room.set_view(p.id, tiles, frozenset(hidden))
    ack(p, msg.id)
