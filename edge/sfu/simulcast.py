"""Simulcast publish offers (RFC 8853 ``a=simulcast``, RFC 8851 ``a=rid``), which aiortc does not
know: its parser drops both attributes, and its receiver expects one RTP stream per m-section.

The edge reads them from the offer's text itself (:func:`read_offer`), checks them, and answers
them itself (:func:`answer`): the answer's m-section gets ``a=rid:<id> recv`` for every layer and
``a=simulcast:recv`` with the offer's list, and the RTP stream id header extensions
(``urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id`` and, where offered, its
``repaired-rtp-stream-id``) are negotiated with the offer's ids, so every packet says which layer
it belongs to (:mod:`edge.sfu.forwarder` demuxes them by rid, then by SSRC).

Refused, naming the m-section and the attribute: simulcast on audio, more than
:data:`~edge.sfu.layers.MAX_LAYERS` rids, a rid in ``a=simulcast`` that no ``a=rid`` line
declares, a rid twice, a rid that does not ``send``, alternatives (``q,h``), ``a=simulcast``
without the rtp-stream-id header extension, and a mid that changes its rids once published.
``a=rid`` lines without ``a=simulcast`` describe one stream and are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

from .interfaces import SdpError
from .layers import MAX_LAYERS, order_rids

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
_RID = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class Simulcast:
    """One m-section's simulcast as offered."""
    #: The rids as ``a=simulcast`` lists them.
    offered: tuple[str, ...]
    #: The header extensions that carry the rids (the offer's ids).
    extensions: tuple[RTCRtpHeaderExtensionParameters, ...]

    @property
    def rids(self) -> tuple[str, ...]:
        """The layers' rids, lowest quality first (layer 0 is the first)."""
        return tuple(order_rids(list(self.offered)))


def _sections(text: str) -> list[list[str]]:
    """The attribute values (after ``a=``) of each m-section, in order."""
    sections: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            sections.append([])
        elif line.startswith("a=") and sections:
            sections[-1].append(line[2:])
    return sections


def read_offer(text: str, desc: aiortc_sdp.SessionDescription) -> dict[str, Simulcast]:
    """The simulcast m-sections of an offer (by mid), checked; *desc* is the offer parsed."""
    found: dict[str, Simulcast] = {}
    for media, attributes in zip(desc.media, _sections(text), strict=False):
        mid = media.rtp.muxId
        rids = [a[4:] for a in attributes if a.startswith("rid:")]
        lists = [a[10:] for a in attributes if a.startswith("simulcast:")]
        if not lists:
            continue  # a=rid alone restricts the one stream: nothing for the edge to do
        where = f"mid {mid}"
        if media.kind != "video":
            raise SdpError(f"{where}: a=simulcast on {media.kind}: only video can be simulcast")
        if len(lists) > 1:
            raise SdpError(f"{where}: more than one a=simulcast line")
        declared: dict[str, str] = {}
        for rid_line in rids:
            parts = rid_line.split()
            if len(parts) < 2 or not _RID.fullmatch(parts[0]):
                raise SdpError(f"{where}: a=rid:{rid_line[:40]} is not '<id> send' with an id of "
                               "1 to 16 letters, digits, '-' or '_'")
            if parts[0] in declared:
                raise SdpError(f"{where}: a=rid:{parts[0]} is declared twice")
            declared[parts[0]] = parts[1]
        offered = _send_list(where, lists[0])
        for rid in offered:
            if rid not in declared:
                raise SdpError(f"{where}: a=simulcast names rid {rid!r}, which no a=rid line declares")
            if declared[rid] != "send":
                raise SdpError(f"{where}: a=rid:{rid} must be 'send' in a publish offer, not {declared[rid]!r}")
        if len(offered) > MAX_LAYERS:
            raise SdpError(f"{where}: a=simulcast lists {len(offered)} rids; the edge takes at most {MAX_LAYERS}")
        if len(set(offered)) != len(offered):
            raise SdpError(f"{where}: a=simulcast names a rid twice")
        extensions = tuple(e for e in media.rtp.headerExtensions if e.uri in (RID_URI, REPAIRED_RID_URI))
        if not any(e.uri == RID_URI for e in extensions):
            raise SdpError(f"{where}: a=simulcast needs the RTP stream id header extension "
                           f"(a=extmap:<id> {RID_URI})")
        found[mid] = Simulcast(offered=tuple(offered), extensions=extensions)
    return found


def _send_list(where: str, value: str) -> list[str]:
    """The rids of ``a=simulcast:send <list>`` (RFC 8853 §5.1); ``~`` (paused at first) is allowed."""
    parts = value.split()
    if len(parts) != 2 or parts[0] != "send":
        raise SdpError(f"{where}: a=simulcast:{value[:60]} must be 'send <rid>;<rid>…' in a publish offer "
                       "(the edge receives, and sends one layer per subscriber)")
    rids = []
    for item in parts[1].split(";"):
        if "," in item:
            raise SdpError(f"{where}: a=simulcast alternatives ({item}) are not supported: one rid per layer")
        rid = item.removeprefix("~")
        if not _RID.fullmatch(rid):
            raise SdpError(f"{where}: a=simulcast names {item[:20]!r}, which is not a rid")
        rids.append(rid)
    return rids


def answer(text: str, simulcast: dict[str, Simulcast]) -> str:
    """The answer with ``a=rid:<id> recv`` and ``a=simulcast:recv`` in each simulcast m-section
    (after its ``a=mid``). The header extensions are already there (negotiated by the hook)."""
    if not simulcast:
        return text
    lines = text.split("\r\n")
    out: list[str] = []
    for line in lines:
        out.append(line)
        if line.startswith("a=mid:") and line[6:] in simulcast:
            sc = simulcast[line[6:]]
            out += [f"a=rid:{rid} recv" for rid in sc.offered]
            out.append("a=simulcast:recv " + ";".join(sc.offered))
    return "\r\n".join(out)
