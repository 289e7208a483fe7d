"""Just enough SDP reading to check a publish offer against the participant's grants.

The forwarding core parses SDP for real; the conference only needs, per media section, its
``mid``, its kind and whether the client sends on it, to refuse an offer before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interfaces import Refusal
from .participant import MEDIA_OF_SOURCE

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(frozen=True)
class Section:
    mid: str
    kind: str
    sending: bool


def sections(sdp: str) -> list[Section]:
    """The media sections of *sdp*; raises :class:`Refusal` (``bad_sdp``) if it is not SDP."""
    lines = [line.strip() for line in sdp.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or not lines[0].startswith("v="):
        raise Refusal("bad_sdp", "not an SDP document (it must start with v=)", "sdp")
    out: list[Section] = []
    session_dir = "sendrecv"
    current: dict[str, str] | None = None

    def flush() -> None:
        if current is not None:
            direction = current.get("dir", session_dir)
            sending = direction in ("sendrecv", "sendonly") and current["port"] != "0"
            out.append(Section(mid=current.get("mid", str(len(out))), kind=current["kind"], sending=sending))

    for line in lines:
        if line.startswith("m="):
            flush()
            parts = line[2:].split()
            if len(parts) < 3:
                raise Refusal("bad_sdp", f"malformed media line {line!r}", "sdp")
            current = {"kind": parts[0], "port": parts[1]}
        elif line.startswith("a="):
            attr = line[2:]
            if attr in _DIRECTIONS:
                if current is None:
                    session_dir = attr
                else:
                    current["dir"] = attr
            elif attr.startswith("mid:") and current is not None:
                current["mid"] = attr[4:]
    flush()
    return out


def check_publish(sdp: str, sources: dict[str, str], allowed: frozenset[str]) -> None:
    """Refuse a publish offer that sends what *allowed* does not grant.

    Every sending audio/video section must be named in *sources*, with a source of the right
    kind that the participant may publish. Nothing else is checked here.
    """
    found = sections(sdp)
    mids = {s.mid for s in found}
    for mid in sources:
        if mid not in mids:
            raise Refusal("invalid", f"sources names mid {mid!r}, which the offer does not have", "sources")
    for section in found:
        if not section.sending or section.kind not in ("audio", "video"):
            continue
        source = sources.get(section.mid)
        if source is None:
            raise Refusal("invalid", f"mid {section.mid!r} sends {section.kind} but sources does not name it",
                          "sources")
        if MEDIA_OF_SOURCE[source] != section.kind:
            raise Refusal("invalid", f"mid {section.mid!r} carries {section.kind}, not {source}", "sources")
        if source not in allowed:
            raise Refusal("forbidden", f"you may not publish {source}", "sources")
