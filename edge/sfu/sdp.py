"""Checking offers and answers before aiortc applies them, so a bad one changes nothing.

aiortc's SDP parser accepts almost anything and its ``setRemoteDescription`` can fail half-way
(after creating transceivers). Everything it would refuse is refused here first, with a message
that says what is wrong, as :class:`~edge.sfu.interfaces.SdpError` (or
:class:`~edge.sfu.interfaces.GrantError` for a source the participant may not publish).

A publish offer is also narrowed before aiortc sees it: each sending m-section keeps only the
codec the edge will forward (the client's first one the edge supports, plus its RTX, RFC 4588),
so the answer names exactly one codec and every packet's payload type is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import sdp as aiortc_sdp
from aiortc.codecs import CODECS, get_capabilities, is_rtx
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from .interfaces import GrantError, Grants, SdpError
from .simulcast import Simulcast, read_offer

#: What kind of media each source is.
SOURCE_KINDS = {"microphone": "audio", "camera": "video", "screen": "video"}
SENDING = ("sendonly", "sendrecv")
MAX_SDP = 256 * 1024


def supported(kind: str) -> str:
    return ", ".join(sorted({c.name for c in CODECS[kind] if not is_rtx(c)}))


def codec_key(codec: RTCRtpCodecParameters) -> tuple[object, ...]:
    """What must match for packets of one codec to be forwarded as another's: the media type and
    clock rate, and for H.264 the packetization mode and profile (RFC 6184 §8.1)."""
    key: tuple[object, ...] = (codec.mimeType.lower(), codec.clockRate)
    if codec.mimeType.lower() == "video/h264":
        profile_level_id = str(codec.parameters.get("profile-level-id", "42E01F"))
        profile: object
        try:
            profile = aiortc_sdp.parse_h264_profile_level_id(profile_level_id)[0]
        except ValueError:
            profile = profile_level_id
        key += (str(codec.parameters.get("packetization-mode", "0")), profile)
    return key


def capabilities_for(codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """Codec preferences that make an m-section offer exactly *codec* (and RTX for video)."""
    kind = codec.mimeType.split("/")[0].lower()
    caps = get_capabilities(kind).codecs
    chosen = [c for c in caps if not is_rtx(c) and codec_key(RTCRtpCodecParameters(
        mimeType=c.mimeType, clockRate=c.clockRate, parameters=c.parameters)) == codec_key(codec)]
    if not chosen:
        raise SdpError(f"the edge cannot offer {codec.mimeType}")
    return chosen[:1] + [c for c in caps if is_rtx(c)]


def keep_rtcp_mux(media: aiortc_sdp.MediaDescription) -> None:
    """Make an m-section that says ``a=rtcp-mux`` without ``a=rtcp:`` (GStreamer, libdatachannel)
    keep saying it when written out again: aiortc writes ``a=rtcp-mux`` only after an ``a=rtcp:``
    line, which with multiplexing names the RTP port (RFC 5761 §5.1.3)."""
    if media.rtcp_mux and media.rtcp_port is None:
        media.rtcp_port = media.port


def parse(text: str, expected_type: str) -> aiortc_sdp.SessionDescription:
    """Parse an offer or answer and check what every use of it needs."""
    if not isinstance(text, str) or not text.strip():
        raise SdpError(f"the {expected_type} is empty")
    if len(text) > MAX_SDP:
        raise SdpError(f"the {expected_type} is larger than {MAX_SDP} bytes")
    if not text.lstrip().startswith("v=0"):
        raise SdpError(f"the {expected_type} is not SDP (it must start with 'v=0')")
    try:
        desc = aiortc_sdp.SessionDescription.parse(text)
        for media in desc.media:
            keep_rtcp_mux(media)
        # The parser lets through values its writer refuses (a c= line that is no address): an
        # offer is written out again for aiortc, so what cannot be written is refused here.
        str(desc)
    except Exception as exc:  # noqa: BLE001 — the parser raises many kinds of errors
        raise SdpError(f"the {expected_type} cannot be parsed: {type(exc).__name__} {exc}".rstrip()) from exc
    desc.type = expected_type
    if not desc.media:
        raise SdpError(f"the {expected_type} has no media sections (m=)")
    mids = []
    for i, media in enumerate(desc.media):
        where = f"m-section {i}"
        if media.kind not in ("audio", "video"):
            raise SdpError(f"{where} is {media.kind!r}: the edge carries audio and video only")
        if not media.rtp.muxId:
            raise SdpError(f"{where} ({media.kind}) has no a=mid")
        where += f" (mid {media.rtp.muxId})"
        if media.rtp.muxId in mids:
            raise SdpError(f"{where}: the mid is used twice")
        mids.append(media.rtp.muxId)
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise SdpError(f"{where} has no ICE credentials (a=ice-ufrag / a=ice-pwd)")
        if media.dtls is None or not media.dtls.fingerprints:
            raise SdpError(f"{where} has no DTLS fingerprint (a=fingerprint)")
        if expected_type == "answer" and media.dtls.role not in ("client", "server"):
            raise SdpError(f"{where}: an answer must say a=setup:active or a=setup:passive")
        if not media.rtcp_mux:
            raise SdpError(f"{where} does not use RTCP multiplexing (a=rtcp-mux)")
        if not any(not is_rtx(c) for c in media.rtp.codecs):
            raise SdpError(f"{where} lists no codecs (a=rtpmap)")
    if len(mids) > 1:
        bundle = next((g for g in desc.group if g.semantic == "BUNDLE"), None)
        if bundle is None or set(bundle.items) != set(mids):
            raise SdpError(f"the {expected_type} must bundle all its m-sections in one a=group:BUNDLE")
    return desc


def common_codecs(local: list[RTCRtpCodecParameters],
                  media: aiortc_sdp.MediaDescription) -> list[RTCRtpCodecParameters]:
    """The codecs of *media* that match *local* (RTX excluded); SdpError for parameters that
    cannot be compared (aiortc reads them as they come: ``packetization-mode`` without a value)."""
    try:
        return [c for c in find_common_codecs(local, media.rtp.codecs) if not is_rtx(c)]
    except (TypeError, ValueError, KeyError) as exc:
        raise SdpError(f"mid {media.rtp.muxId} has codec parameters that cannot be read: "
                       f"{type(exc).__name__} {exc}") from exc


def _negotiable(media: aiortc_sdp.MediaDescription) -> tuple[RTCRtpCodecParameters, RTCRtpCodecParameters | None]:
    """The remote codec the edge will use for *media* (and its RTX), or SdpError."""
    common = common_codecs(CODECS[media.kind], media)
    chosen = next((c for c in media.rtp.codecs if common and c.payloadType == common[0].payloadType), None)
    if chosen is None:
        offered = ", ".join(c.name for c in media.rtp.codecs if not is_rtx(c))
        raise SdpError(f"no usable {media.kind} codec in mid {media.rtp.muxId}: offered {offered}; "
                       f"the edge forwards {supported(media.kind)}")
    rtx = next((c for c in media.rtp.codecs if is_rtx(c) and c.parameters.get("apt") == chosen.payloadType), None)
    return chosen, rtx


@dataclass
class Published:
    mid: str
    kind: str
    source: str
    codec: RTCRtpCodecParameters
    #: The m-section's simulcast layers (None: one stream).
    simulcast: Simulcast | None = None


@dataclass
class PublishPlan:
    #: The offer narrowed to one codec per m-section, for aiortc.
    sdp: str
    #: Sending m-sections, in order.
    sending: list[Published] = field(default_factory=list)
    #: mids that no longer send.
    stopped: list[str] = field(default_factory=list)
    #: The simulcast m-sections, by mid (answered by :func:`edge.sfu.simulcast.answer`).
    simulcast: dict[str, Simulcast] = field(default_factory=dict)
    #: The offer's ICE credentials (ufrag, pwd) — all m-sections are bundled on one transport.
    ice: tuple[str, str] = ("", "")


def plan_publish(text: str, sources: dict[str, str], grants: Grants, current: dict[str, str],
                 current_rids: dict[str, tuple[str, ...]] | None = None) -> PublishPlan:
    """Check a publish offer. *current* maps the mids already publishing to their source,
    *current_rids* those that publish simulcast to their rids."""
    desc = parse(text, "offer")
    if not isinstance(sources, dict):
        raise SdpError("sources must map each sending mid to a source")
    plan = PublishPlan(sdp="", simulcast=read_offer(text, desc))
    current_rids = current_rids or {}
    used: dict[str, str] = {}
    for media in desc.media:
        mid = media.rtp.muxId
        chosen, rtx = _negotiable(media)
        media.rtp.codecs = [chosen] + ([rtx] if rtx is not None else [])
        media.fmt = [c.payloadType for c in media.rtp.codecs]
        if (media.direction or "sendrecv") not in SENDING:
            if mid in current:
                plan.stopped.append(mid)
            continue
        source = sources.get(mid)
        if source is None:
            raise SdpError(f"mid {mid} sends {media.kind} but sources names no source for it")
        if source not in SOURCE_KINDS:
            raise SdpError(f"mid {mid}: unknown source {source!r} (one of {', '.join(SOURCE_KINDS)})")
        if SOURCE_KINDS[source] != media.kind:
            raise SdpError(f"mid {mid} sends {media.kind} but {source} is {SOURCE_KINDS[source]}")
        if source in used:
            raise SdpError(f"mids {used[source]} and {mid} both send the {source}")
        if mid in current and current[mid] != source:
            raise SdpError(f"mid {mid} already publishes the {current[mid]}; it cannot become the {source}")
        if source not in grants.publish:
            raise GrantError(f"not allowed to publish the {source} (mid {mid})")
        simulcast = plan.simulcast.get(mid)
        if mid in current and current_rids.get(mid, ()) != (simulcast.rids if simulcast else ()):
            raise SdpError(f"mid {mid} publishes with rids {list(current_rids.get(mid, ()))}; "
                           "its a=simulcast cannot change (publish it on a new m-section)")
        used[source] = mid
        plan.sending.append(Published(mid=mid, kind=media.kind, source=source, codec=chosen, simulcast=simulcast))
    sending = {p.mid for p in plan.sending}
    plan.simulcast = {mid: sc for mid, sc in plan.simulcast.items() if mid in sending}
    plan.sdp = str(desc)
    plan.ice = ice_of(desc)
    return plan


def ice_of(desc: aiortc_sdp.SessionDescription) -> tuple[str, str]:
    """The (ufrag, pwd) of a parsed offer or answer's first m-section (the bundle's transport)."""
    ice = desc.media[0].ice
    assert ice is not None and ice.usernameFragment and ice.password   # parse() checked them
    return ice.usernameFragment, ice.password


def check_answer(text: str, offered: list[tuple[str, str]],
                 codecs: dict[str, RTCRtpCodecParameters]) -> aiortc_sdp.SessionDescription:
    """Check a subscriber's answer against the edge's offer: *offered* lists the offer's
    (kind, mid) in order; *codecs* maps the mids that carry a track to the track's codec."""
    desc = parse(text, "answer")
    answered = [(m.kind, m.rtp.muxId) for m in desc.media]
    if answered != offered:
        raise SdpError(f"the answer's m-sections {answered} do not match the offer's {offered}")
    for media in desc.media:
        codec = codecs.get(media.rtp.muxId)
        if codec is None or media.direction == "inactive":
            continue
        if not common_codecs([codec], media):
            got = ", ".join(c.name for c in media.rtp.codecs if not is_rtx(c)) or "nothing"
            raise SdpError(f"mid {media.rtp.muxId} carries {codec.name} but the answer accepts {got}")
    return desc
