"""Every NATS subject, stream and bucket name the product uses, built in one place.

All subjects share the prefix ``cc.``. Identifiers placed in a subject token must match
:data:`TOKEN_RE` (base64url alphabet), so no id can inject ``.``, ``*`` or ``>``. The contract —
who publishes, who subscribes and the payload type of each — is written down in
``docs/subjects.md``.
"""

from __future__ import annotations

import re

PREFIX = "cc"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: JetStream stream that keeps every event (``cc.evt.>``).
EVENTS_STREAM = "CC_EVENTS"
#: Durable consumer through which the control plane reads events.
EVENTS_CONSUMER = "control-plane"
#: KV bucket: meeting id → home edge placement (edge, region, epoch).
PLACEMENT_BUCKET = "cc_placement"


def policy_key(meeting_id: str) -> str:
    """Key of a meeting's entry policy (:class:`nodes.wire.MeetingPolicy`) in the placement bucket,
    next to its placement: the edge that opens the meeting reads it."""
    return f"{token(meeting_id)}.policy"


class SubjectError(ValueError):
    """An identifier is not safe to place in a subject token."""


def token(value: str) -> str:
    """Return *value* if it is a safe subject token, else raise :class:`SubjectError`."""
    if not TOKEN_RE.match(value):
        raise SubjectError(f"not a valid subject token: {value!r}")
    return value


# --- edge registry ------------------------------------------------------------------------
def edge_heartbeat(edge_id: str) -> str:
    """Edge → control plane, every ``heartbeat_interval``: :class:`nodes.wire.EdgeHeartbeat`."""
    return f"{PREFIX}.edge.{token(edge_id)}.heartbeat"


def edge_gone(edge_id: str) -> str:
    """Edge → control plane, once on orderly shutdown: :class:`nodes.wire.EdgeGone`."""
    return f"{PREFIX}.edge.{token(edge_id)}.gone"


def edge_record(edge_id: str) -> str:
    """Edge → control plane, request/reply: a moderator's :class:`nodes.wire.RecordControl`;
    reply RecordReply (under the edge's own ``cc.edge.<id>.>``, so a NATS permission pins the sender)."""
    return f"{PREFIX}.edge.{token(edge_id)}.record"


def parse_edge_record(subject: str) -> str | None:
    """The edge of a :func:`edge_record` subject, or None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[:2] != [PREFIX, "edge"] or parts[3] != "record":
        return None
    return parts[2]


ALL_EDGE_RECORD = f"{PREFIX}.edge.*.record"
ALL_EDGE_HEARTBEATS = f"{PREFIX}.edge.*.heartbeat"
ALL_EDGE_GONE = f"{PREFIX}.edge.*.gone"


# --- control plane services ---------------------------------------------------------------
#: Request → :class:`nodes.wire.JwksReply` (the control plane's public join-token keys).
JWKS = f"{PREFIX}.cp.jwks"


# --- commands (control plane → edges hosting a meeting), request/reply -----------------------
def command(meeting_id: str, verb: str) -> str:
    """Control plane → edges of a meeting: :class:`nodes.wire.Command` union; reply CommandReply."""
    return f"{PREFIX}.cmd.{token(meeting_id)}.{token(verb)}"


def meeting_commands(meeting_id: str) -> str:
    """Wildcard an edge subscribes to while it hosts *meeting_id*."""
    return f"{PREFIX}.cmd.{token(meeting_id)}.*"


def edge_drain(edge_id: str) -> str:
    """Control plane → edge *edge_id*: :class:`nodes.wire.DrainEdge`; reply CommandReply. Under
    ``cc.cmd.`` (which only the control plane may publish) with one token more than a meeting's
    commands, so it never matches ``cc.cmd.<meeting>.*``."""
    return f"{PREFIX}.cmd.edge.{token(edge_id)}.drain"


ALL_COMMANDS = f"{PREFIX}.cmd.>"


# --- recorders (docs/recording.md) ------------------------------------------------------------
#: Control plane → any recorder (queue group :data:`RECORDERS_QUEUE`), request/reply:
#: :class:`nodes.wire.RecordStart`; reply :class:`nodes.wire.RecordReply`.
RECORD_START = f"{PREFIX}.rec.start"
RECORDERS_QUEUE = "recorders"


def record_stop(recorder_id: str) -> str:
    """Control plane → recorder *recorder_id*: :class:`nodes.wire.RecordStop`; reply RecordReply."""
    return f"{PREFIX}.rec.{token(recorder_id)}.stop"


# The recorder's id sits right after ``cc.cp.rec``: a recorder's NATS user may publish
# ``cc.cp.rec.<its id>.>`` only, so the control plane knows which recorder asks.
def recorder_report(recorder_id: str, verb: str) -> str:
    """Recorder → control plane, request/reply: ``rejoin`` (:class:`nodes.wire.RecordRejoin`, reply
    RecordRejoinReply) or ``done`` (:class:`nodes.wire.RecordDone`, reply RecordReply)."""
    return f"{PREFIX}.cp.rec.{token(recorder_id)}.{token(verb)}"


ALL_RECORDER_REPORTS = f"{PREFIX}.cp.rec.*.*"


def parse_recorder_report(subject: str) -> tuple[str, str] | None:
    """(recorder, verb) of a recorder report subject, or None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[:3] != [PREFIX, "cp", "rec"]:
        return None
    return parts[3], parts[4]


def recorder_permissions(recorder_id: str) -> tuple[list[str], list[str]]:
    """(publish, subscribe) allowed to recorder *recorder_id*'s NATS user."""
    r = token(recorder_id)
    return [f"{PREFIX}.cp.rec.{r}.>"], [RECORD_START, f"{PREFIX}.rec.{r}.>", f"_INBOX.{r}.>"]


# --- events (edges → JetStream → control plane) ---------------------------------------------
# The sending edge's id sits right after ``cc.evt``: an edge's NATS user may publish ``cc.evt.<its id>.>``
# only, so the subject says which edge an event comes from.
def event(edge_id: str, meeting_id: str, kind: str) -> str:
    """Edge *edge_id* → stream :data:`EVENTS_STREAM`: :class:`nodes.wire.Event` union."""
    return f"{PREFIX}.evt.{token(edge_id)}.{token(meeting_id)}.{token(kind)}"


def parse_event(subject: str) -> tuple[str, str, str] | None:
    """(edge, meeting, kind) of an event subject, or None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[:2] != [PREFIX, "evt"]:
        return None
    return parts[2], parts[3], parts[4]


def edge_events(edge_id: str) -> str:
    """Every event subject edge *edge_id* may publish (its NATS permission)."""
    return f"{PREFIX}.evt.{token(edge_id)}.>"


ALL_EVENTS = f"{PREFIX}.evt.>"


# --- cascading: the edges of one meeting (see docs/subjects.md, docs/regions.md) ---------------
# The sender's id sits at a fixed position, so a NATS permission pins it: edge E may publish
# ``cc.relay.m.*.E.>`` (mesh) and ``cc.relay.e.*.E.>`` (relay requests) only.
def relay(to_edge: str, from_edge: str, verb: str) -> str:
    """Edge *from_edge* → edge *to_edge*, request/reply: :data:`nodes.wire.RelayRequest`; reply RelayReply."""
    return f"{PREFIX}.relay.e.{token(to_edge)}.{token(from_edge)}.{token(verb)}"


def relay_inbox(edge_id: str) -> str:
    """What edge *edge_id* subscribes to for relay signaling addressed to it (any sender, any verb)."""
    return f"{PREFIX}.relay.e.{token(edge_id)}.*.*"


def parse_relay(subject: str) -> tuple[str, str, str] | None:
    """(to edge, from edge, verb) of a relay request subject, or None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[:3] != [PREFIX, "relay", "e"]:
        return None
    return parts[3], parts[4], parts[5]


def mesh(meeting_id: str, edge_id: str, kind: str) -> str:
    """Edge *edge_id* → the meeting's edges: ``state`` (:class:`nodes.wire.MeshState`) or ``signal``
    (chat, moderation, end: the rest of :data:`nodes.wire.MeshMessage`)."""
    return f"{PREFIX}.relay.m.{token(meeting_id)}.{token(edge_id)}.{token(kind)}"


def meeting_mesh(meeting_id: str) -> str:
    """What an edge subscribes to while it hosts *meeting_id* (every sender, every kind)."""
    return f"{PREFIX}.relay.m.{token(meeting_id)}.*.*"


def parse_mesh(subject: str) -> tuple[str, str, str] | None:
    """(meeting, sending edge, kind) of a mesh subject, or None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[:3] != [PREFIX, "relay", "m"]:
        return None
    return parts[3], parts[4], parts[5]


def edge_publish_allow(edge_id: str) -> list[str]:
    """The subjects edge *edge_id*'s NATS user may publish, besides ``cc.cp.jwks`` and what the
    placement read needs: its registry subjects, its events, its mesh messages and relay requests."""
    e = token(edge_id)
    return [f"{PREFIX}.edge.{e}.>", edge_events(e), f"{PREFIX}.relay.m.*.{e}.>", f"{PREFIX}.relay.e.*.{e}.>"]
