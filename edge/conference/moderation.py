"""Moderators' actions: one type (:class:`ModeratorAction`), one function that applies it
(:func:`apply`), and one epoch rule (:func:`check_epoch`).

A moderator's action reaches an edge three ways, and each way checks only **who asks**:

* signaling — a participant's request, checked against its grants in :mod:`.seat` (the moderate
  grant; a moderator may mute someone else but only the participant may unmute itself);
* a NATS command from the control plane (:mod:`edge.commands`) — trusted, after the epoch rule;
* the mesh — another edge of the meeting (:mod:`edge.mesh`), trusted per the mesh's sender checks,
  after the epoch rule.

Everything about **what** is asked is checked here, once, whatever the way: the target exists and is
not the requester itself, a guest is never promoted (the control plane's rule), admit and deny need
a participant waiting in the lobby, a mute names a known source. Then :mod:`.actions` carries it
out. A participant's action on someone hosted by another edge of the meeting is checked here with
what this edge knows, then handed to that edge over the mesh, which applies it with this same
function (only a participant's action goes on: commands and mesh actions act on this edge's
participants, every hosting edge gets the command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from nodes import wire

from .. import protocol as m
from . import actions
from .interfaces import Refusal
from .participant import MEDIA_OF_SOURCE, SOURCE_OF_KIND

if TYPE_CHECKING:
    from .meeting import Meeting
    from .participant import Participant

Verb = Literal["kick", "mute", "admit", "deny", "promote", "end", "lower_hand"]
#: Where the action came from: a participant (signaling), the control plane (a NATS command), or
#: another edge of the meeting (the mesh).
Origin = Literal["participant", "control_plane", "mesh"]


class ModeratorAction(msgspec.Struct, kw_only=True, frozen=True):
    """One moderator's action on a meeting, whichever way it came."""

    verb: Verb
    #: The participant acted on (empty for ``end``).
    participant_id: str = ""
    #: Who asked: a participant id, or the control plane's account id / ``control-plane``.
    by: str = ""
    origin: Origin = "participant"
    reason: str = ""
    #: For ``mute``: "microphone", "camera" or "screen".
    source: str = ""


# -- one epoch rule ---------------------------------------------------------------------------
def check_epoch(meeting: Meeting, epoch: int) -> None:
    """The placement epoch rule for whatever crosses NATS about a meeting (commands, mesh, relays):
    an older epoch than the meeting's is refused (``stale epoch N (the meeting is at M)``), a newer
    one is adopted, 0 (the sender does not know) is not checked."""
    if epoch and epoch < meeting.epoch:
        raise Refusal("stale_epoch", f"stale epoch {epoch} (the meeting is at {meeting.epoch})")
    if epoch > meeting.epoch:
        meeting.epoch = epoch
        meeting.changed()


# -- from the ways in -------------------------------------------------------------------------
def from_command(cmd: wire.Kick | wire.Mute | wire.Admit | wire.Deny | wire.Promote | wire.EndMeeting,
                 by: str) -> ModeratorAction:
    """A control plane command as an action (*by*: who to name when the command names nobody)."""
    by = cmd.by or by
    match cmd:
        case wire.EndMeeting(reason=reason):
            return ModeratorAction(verb="end", by=by, origin="control_plane", reason=reason)
        case wire.Kick(participant_id=pid, reason=reason):
            return ModeratorAction(verb="kick", participant_id=pid, by=by, origin="control_plane", reason=reason)
        case wire.Mute(participant_id=pid, kind=kind):
            source = SOURCE_OF_KIND.get(kind)
            if source is None:
                raise Refusal("invalid", f"unknown kind {kind!r} (audio, video or screen)", "kind")
            return ModeratorAction(verb="mute", participant_id=pid, by=by, origin="control_plane", source=source)
        case wire.Admit(participant_id=pid):
            return ModeratorAction(verb="admit", participant_id=pid, by=by, origin="control_plane")
        case wire.Deny(participant_id=pid):
            return ModeratorAction(verb="deny", participant_id=pid, by=by, origin="control_plane")
        case wire.Promote(participant_id=pid):
            return ModeratorAction(verb="promote", participant_id=pid, by=by, origin="control_plane")
    raise Refusal("invalid", f"{type(cmd).__name__} is not a moderator's action", "type")


def from_mesh(msg: wire.MeshAction | wire.MeshEnd) -> ModeratorAction:
    if isinstance(msg, wire.MeshEnd):
        return ModeratorAction(verb="end", by=msg.by, origin="mesh", reason=msg.reason)
    return ModeratorAction(verb=msg.action, participant_id=msg.participant_id, by=msg.by, origin="mesh",
                           reason=msg.reason, source=msg.source)


def from_signaling(msg: m.Kick | m.Mute | m.Admit | m.Deny | m.Promote | m.EndMeeting | m.Hand,
                   by: str) -> ModeratorAction:
    match msg:
        case m.Hand(participant_id=pid, raised=False):
            return ModeratorAction(verb="lower_hand", participant_id=pid, by=by)
        case m.EndMeeting(reason=reason):
            return ModeratorAction(verb="end", by=by, reason=reason)
        case m.Kick(participant_id=pid, reason=reason):
            return ModeratorAction(verb="kick", participant_id=pid, by=by, reason=reason)
        case m.Mute(participant_id=pid, source=source):
            return ModeratorAction(verb="mute", participant_id=pid, by=by, source=source)
        case m.Admit(participant_id=pid):
            return ModeratorAction(verb="admit", participant_id=pid, by=by)
        case m.Deny(participant_id=pid, reason=reason):
            return ModeratorAction(verb="deny", participant_id=pid, by=by, reason=reason)
        case m.Promote(participant_id=pid):
            return ModeratorAction(verb="promote", participant_id=pid, by=by)
    raise Refusal("invalid", f"{type(msg).__name__} is not a moderator's action", "type")


# -- one function that applies it ---------------------------------------------------------------
def _check(a: ModeratorAction, *, role: str, account_id: str, state: str) -> None:
    """What is asked fits the target (the same for a local and a remote one)."""
    if a.verb == "promote":
        actions.check_promotable(role, account_id)
    elif a.verb in ("admit", "deny") and state != "lobby":
        raise Refusal("invalid", f"participant {a.participant_id!r} is not waiting in the lobby", "participant_id")
    elif a.verb == "lower_hand" and state != "in":
        raise Refusal("invalid", f"participant {a.participant_id!r} is not in the meeting", "participant_id")
    elif a.verb == "mute" and a.source not in MEDIA_OF_SOURCE:
        raise Refusal("invalid", f"unknown source {a.source!r} (microphone, camera or screen)", "source")


async def apply(meeting: Meeting, a: ModeratorAction, *, requester: Participant | None = None,
                re: m.RequestId = None) -> None:
    """Carry out *a* on *meeting*, or raise :class:`Refusal` (then nothing changed).

    *requester*: the participant who asked over signaling (it hears back: ``ok``, or its copy of
    ``muted`` with *re*). Who may ask was checked by the caller.
    """
    mt = meeting
    if mt.closed:
        raise Refusal("meeting_ended", "this meeting has ended")
    if a.verb == "end":
        reason = a.reason or "ended by a moderator"
        if a.origin == "participant":
            await mt.end_for_all(by=a.by, reason=reason)  # this edge tells the others
        else:
            await mt.end(by=a.by, reason=reason)  # every edge gets the command, or the edge that ended it told us
        return
    target = mt.participants.get(a.participant_id)
    if target is None:
        remote = mt.remote.get(a.participant_id)
        if remote is None or a.origin != "participant" or mt.mesh is None:
            raise Refusal("not_found", f"no participant {a.participant_id!r} in this meeting", "participant_id")
        _check(a, role=remote.role, account_id="(on another edge)", state=remote.state)
        await mt.mesh.act(remote, a)  # its edge applies it with this function (and checks the account)
        if requester is not None:
            actions.ack(requester, re)
        return
    if requester is not None and target is requester:
        raise Refusal("invalid", f"you cannot {a.verb} yourself", "participant_id")
    _check(a, role=target.role, account_id=target.account_id, state=target.state)
    match a.verb:
        case "kick":
            await actions.kick(mt, target, by=a.by, reason=a.reason)
        case "mute":
            actions.mute(mt, target, a.source, True, by=a.by, requester=requester, re=re)
            return  # the requester's copy of ``muted`` (or ``ok``) is its answer
        case "admit":
            await actions.admit(mt, target, by=a.by)
        case "deny":
            await actions.deny(mt, target, by=a.by, reason=a.reason)
        case "promote":
            actions.promote(mt, target, by=a.by)
        case "lower_hand":
            actions.hand(mt, target, False, by=a.by, requester=requester, re=re)
            return  # the requester's copy of ``hand`` (or ``ok``) is its answer
    if requester is not None:
        actions.ack(requester, re)
