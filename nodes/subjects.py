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


ALL_COMMANDS = f"{PREFIX}.cmd.>"


# --- events (edges → JetStream → control plane) ---------------------------------------------
def event(meeting_id: str, kind: str) -> str:
    """Edge → stream :data:`EVENTS_STREAM`: :class:`nodes.wire.Event` union."""
    return f"{PREFIX}.evt.{token(meeting_id)}.{token(kind)}"


ALL_EVENTS = f"{PREFIX}.evt.>"


# --- cascading: the edges of one meeting (see docs/subjects.md, docs/regions.md) ---------------
def relay(edge_id: str, verb: str) -> str:
    """Edge → edge *edge_id*, request/reply: :data:`nodes.wire.RelayRequest`; reply RelayReply."""
    return f"{PREFIX}.relay.e.{token(edge_id)}.{token(verb)}"


def relay_inbox(edge_id: str) -> str:
    """What edge *edge_id* subscribes to for relay signaling addressed to it."""
    return f"{PREFIX}.relay.e.{token(edge_id)}.*"


def mesh(meeting_id: str, kind: str) -> str:
    """Edge → the meeting's edges: ``state`` (:class:`nodes.wire.MeshState`) or ``signal`` (chat,
    moderation, end: the rest of :data:`nodes.wire.MeshMessage`)."""
    return f"{PREFIX}.relay.m.{token(meeting_id)}.{token(kind)}"


def meeting_mesh(meeting_id: str) -> str:
    """What an edge subscribes to while it hosts *meeting_id*."""
    return f"{PREFIX}.relay.m.{token(meeting_id)}.*"
