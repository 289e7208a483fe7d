"""A participant's subscribe PC: the edge offers, the client answers.

The PC has one ``sendonly`` transceiver per track the participant receives. When tracks come
and go the edge renegotiates: a new track gets a new transceiver (or reuses one whose removal
was already negotiated, same kind and codec), a removed track's transceiver becomes
``inactive``. Negotiations are serialized — one offer at a time; a change made while an offer is
outstanding is folded into the next offer, made as soon as the answer is in.

Each transceiver's m-section is restricted to the published track's codec
(``setCodecPreferences``), so the client cannot answer with another one: packets are forwarded
as they are, so the subscriber must receive exactly what the publisher sends. Its
``a=msid`` says ``<publisher id> <track id>``.

A participant's client may answer with aiortc under its default ``bundlePolicy`` ("balanced"),
which bundles one offer's new m-sections wrongly: a new m-section of a kind the client has no
transceiver of yet gets a transport of its own, later ones of that kind in the same offer share
it, and when the client applies ``a=group:BUNDLE`` only the first of them moves to the bundle's
transport; the others stay on a transport that is discarded, so their receivers never start and
their packets, arriving on the bundle's transport under an SSRC no receiver registered, are
handed by payload type to the first one (two video streams decoded as one, with errors).
So a participant's subscribe side (``stagger_new_kinds``) offers a kind it does not carry yet
with one m-section; the rest of that kind follow in the next offer, made as soon as the answer
is in. Only the first m-section's kind, whose transport is the bundle's, is offered whole.
Relays between edges, answered by edges that use ``max-bundle``, offer everything at once.

Forwarding to a transceiver starts when the answer has been applied (the payload type and
header extension ids are then known) and the PC is connected (:class:`~edge.sfu.egress.Egress`).

:meth:`SubscribeSide.restart_ice` restarts ICE in place: the next offer carries new ICE
credentials, the answer's credentials start the checks again on the same sockets, and once a new
pair is nominated the egress is moved onto it (``on_ice_restarted``); until then packets keep
going the old way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpTransceiver, RTCSessionDescription

from . import aiortc_hooks as hooks
from . import sdp, stamping
from .bandwidth import TransportSequence
from .downtrack import DownTrack, ForwardedTrack
from .egress import Egress
from .interfaces import PcRole, SdpError

if TYPE_CHECKING:
    from .forwarder import TrackSource

log = logging.getLogger(__name__)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


@dataclass
class Subscription:
    source: TrackSource
    downtrack: DownTrack
    transceiver: RTCRtpTransceiver | None = None
    active: bool = False


class SubscribeSide:
    """Subscriptions, the subscribe PC and its negotiation, for one participant."""

    def __init__(self, participant_id: str, egress: Egress, new_pc: Callable[[PcRole], RTCPeerConnection],
                 send_offer: Callable[[str], None], *, stagger_new_kinds: bool = False,
                 on_ice_restarted: Callable[[RTCPeerConnection], None] | None = None,
                 feedback: bool = False) -> None:
        self.participant_id = participant_id
        self._on_ice_restarted = on_ice_restarted
        #: The next offer restarts ICE; then its answer's credentials start the checks.
        self._ice_restart = False
        self._ice_restart_offered = False
        #: Ask for congestion feedback (transport-wide cc, else REMB) and stamp what it needs.
        self.feedback = feedback
        #: Transport-wide sequence numbers of the current PC.
        self.sequence = TransportSequence()
        self._answered: dict[str, stamping.Answered] = {}
        #: Called when forwarding to a transceiver starts (or its parameters change).
        self.on_activated: Callable[[], None] | None = None
        #: Offer a kind the PC does not carry yet with one m-section at a time (see above).
        self.stagger_new_kinds = stagger_new_kinds
        self.egress = egress
        self._new_pc = new_pc
        self._send_offer = send_offer
        self.pc: RTCPeerConnection | None = None
        self.subs: dict[str, Subscription] = {}  # track_id → subscription
        self._owner: dict[RTCRtpTransceiver, Subscription] = {}
        # transceivers whose track was removed, with the down track that last sent on them
        self._removing: list[tuple[RTCRtpTransceiver, DownTrack]] = []
        self._free: list[tuple[RTCRtpTransceiver, tuple[object, ...], DownTrack]] = []  # reusable, with codec key
        self._outstanding = False
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._offered: list[tuple[str, str]] = []
        self._offered_codecs: dict[str, RTCRtpCodecParameters] = {}
        self.offers = 0
        self.closed = False

    # --- what the participant receives ---

    def want(self, sources: list[TrackSource]) -> None:
        """Receive exactly *sources* from now on; renegotiate if that changes anything."""
        wanted = {s.track_id: s for s in sources}
        changed = False
        for track_id in [t for t in self.subs if t not in wanted or wanted[t] is not self.subs[t].source]:
            self._drop(self.subs.pop(track_id))
            changed = True
        for track_id, source in wanted.items():
            if track_id not in self.subs:
                self.subs[track_id] = Subscription(source, DownTrack(source, self.egress))
                changed = True
        if changed:
            self.negotiate()

    def _drop(self, sub: Subscription) -> None:
        self._stop_forwarding(sub)
        t = sub.transceiver
        if t is not None:
            self._owner.pop(t, None)
            t.direction = "inactive"
            self._removing.append((t, sub.downtrack))

    def _stop_forwarding(self, sub: Subscription) -> None:
        sub.source.remove(sub.downtrack)
        if sub.downtrack in self.egress.downtracks:
            self.egress.downtracks.remove(sub.downtrack)
            self.egress.retire(sub.downtrack)
        self.egress.forget(sub.downtrack)
        sub.active = False

    def mids(self) -> dict[str, str]:
        return {s.transceiver.mid: tid for tid, s in self.subs.items()
                if s.active and s.transceiver is not None and s.transceiver.mid is not None}

    # --- negotiation ---

    def restart_ice(self) -> None:
        """Offer new ICE credentials (an ICE restart in place) as soon as an offer can be made;
        nothing when the PC is not established (it is rebuilt instead, by a media restart)."""
        if self.pc is None or self.pc.connectionState != "connected":
            return
        self._ice_restart = True
        self.negotiate()

    def negotiate(self) -> None:
        """Make an offer now, or right after the outstanding one is answered."""
        self._dirty = True
        if self.closed or self._outstanding or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.ensure_future(self._offer())

    async def _offer(self) -> None:
        self._dirty = False
        try:
            if self.pc is not None and self.pc.connectionState == "closed":
                await self._close_pc()  # the client closed it: start over with a fresh PC
                self._task = asyncio.current_task()
            if self.pc is None:
                if not self.subs:
                    return  # nothing to receive yet: no PC, no offer
                self.pc = self._new_pc("subscribe")
            pc = self.pc
            self._assign_new(pc)
            if not pc.getTransceivers():
                return
            sending = [(s.transceiver, s.source.codec) for s in self.subs.values() if s.transceiver is not None]
            restart, self._ice_restart = self._ice_restart, False
            if restart and not hooks.ice_restart_refusal(pc.getTransceivers()[0].sender.transport):
                hooks.begin_ice_restart(pc.getTransceivers()[0].sender.transport)
                self._ice_restart_offered = True
            await pc.setLocalDescription(await pc.createOffer())
            if self.closed or pc is not self.pc:
                return
            local = pc.localDescription.sdp
            desc = sdp.parse(local, "offer")
            if self.feedback:
                local = stamping.offer_transport_cc(local)
            self._offered = [(m.kind, m.rtp.muxId) for m in desc.media]
            self._offered_codecs = {t.mid: codec for t, codec in sending if t.mid is not None}  # what it sends
            self._outstanding = True
            self.offers += 1
        except Exception:  # noqa: BLE001 — a failed offer leaves the subscriber as it was
            if not self.closed:
                log.exception("subscriber offer for %s failed", self.participant_id)
            return
        self._send_offer(local)

    def _assign_new(self, pc: RTCPeerConnection) -> None:
        """Give a transceiver to every subscription that has none, except that with
        :attr:`stagger_new_kinds` a kind the PC does not carry yet gets one m-section in this
        offer (all of them for the PC's first kind); the others wait for the next offer."""
        present = {t.kind for t in pc.getTransceivers()}
        introduced: set[str] = set()
        for sub in self.subs.values():
            if sub.transceiver is not None:
                continue
            kind = sub.source.kind
            if self.stagger_new_kinds and kind not in present:
                if kind in introduced:
                    self._dirty = True  # offered as soon as this offer is answered
                    continue
                introduced.add(kind)
                if not pc.getTransceivers():
                    present.add(kind)  # the first m-section: its transport is the bundle's
            self._assign(pc, sub)

    def _assign(self, pc: RTCPeerConnection, sub: Subscription) -> None:
        source = sub.source
        key = sdp.codec_key(source.codec)
        reuse = next((free for free in self._free if free[1] == key and free[0].kind == source.kind), None)
        if reuse is not None:
            self._free.remove(reuse)
            t = reuse[0]
            t.direction = "sendonly"
            sub.downtrack.continue_after(reuse[2])  # same SSRC: keep its sequence going
        else:
            t = pc.addTransceiver(ForwardedTrack(source.kind), direction="sendonly")
            hooks.tap_sender(t.sender, hooks.SenderFeedback(
                on_keyframe=functools.partial(self._feedback_keyframe, t),
                on_nack=functools.partial(self._feedback_nack, t)))
        hooks.guard_rtcp(t.sender.transport)
        t.setCodecPreferences(sdp.capabilities_for(source.codec))
        hooks.set_msid(t.sender, source.info.participant_id, source.track_id)
        sub.transceiver = t
        self._owner[t] = sub

    async def answer(self, text: str) -> None:
        if self.closed or self.pc is None or not self._outstanding:
            raise SdpError(f"no subscriber offer is outstanding for {self.participant_id}")
        desc = sdp.check_answer(text, self._offered, self._offered_codecs)
        answered = stamping.answered(text) if self.feedback else {}
        if self._ice_restart_offered:
            self._ice_restart_offered = False
            pc = self.pc
            hooks.start_ice_checks(pc.getTransceivers()[0].sender.transport, *sdp.ice_of(desc),
                                   on_done=lambda ok: self._ice_done(pc, ok))
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="answer"))
        except Exception as exc:  # noqa: BLE001
            raise SdpError(f"the answer was refused: {exc}") from exc
        if self.closed:
            return
        self._outstanding = False
        self._answered = answered
        for sub in self.subs.values():
            t = sub.transceiver
            if t is not None and t.mid in self._offered_codecs and t.currentDirection in ("sendonly", "sendrecv"):
                self._activate(sub, t)
        if self.on_activated is not None:
            self.on_activated()
        for t, last in list(self._removing):
            if t.currentDirection == "inactive" and t.direction == "inactive":
                self._removing.remove((t, last))
                codecs, _ = hooks.negotiated(t)
                if codecs:
                    self._free.append((t, sdp.codec_key(codecs[0]), last))
        if self._dirty:
            self.negotiate()

    def _activate(self, sub: Subscription, t: RTCRtpTransceiver) -> None:
        codecs, extensions = hooks.negotiated(t)
        if not codecs or sdp.codec_key(codecs[0]) != sdp.codec_key(sub.source.codec):
            log.error("mid %s of %s negotiated %s for a %s track", t.mid, self.participant_id,
                      codecs[0].name if codecs else "nothing", sub.source.codec.name)
            return
        ids = {e.uri: e.id for e in extensions}
        payload_type, mid = codecs[0].payloadType, t.mid
        assert payload_type is not None and mid is not None   # negotiated: aiortc has set both
        sub.downtrack.configure(ssrc=hooks.sender_ssrc(t.sender), payload_type=payload_type,
                                mid=mid, mid_ext=ids.get(MID_URI), level_ext=ids.get(LEVEL_URI),
                                report=functools.partial(hooks.report_sent, t.sender))
        if self.feedback and sub.downtrack.video:
            sub.downtrack.use_stamp(stamping.stamper(self._answered.get(mid, stamping.Answered()), self.sequence))
        if not sub.active:
            sub.active = True
            self.egress.downtracks.append(sub.downtrack)
            sub.source.add(sub.downtrack)

    def _ice_done(self, pc: RTCPeerConnection, ok: bool) -> None:
        log.log(logging.INFO if ok else logging.WARNING, "ICE restart of %s's subscribe connection %s",
                self.participant_id, "completed" if ok else "failed")
        if ok and pc is self.pc and not self.closed and self._on_ice_restarted is not None:
            self._on_ice_restarted(pc)

    # --- feedback from the subscriber's RTCP ---

    def _feedback_keyframe(self, t: RTCRtpTransceiver) -> None:
        sub = self._owner.get(t)
        if sub is not None and sub.active:
            sub.downtrack.on_keyframe_request()

    def _feedback_nack(self, t: RTCRtpTransceiver, lost: list[int]) -> None:
        sub = self._owner.get(t)
        if sub is not None and sub.active:
            sub.downtrack.on_nack(lost)

    # --- lifecycle ---

    async def reset(self) -> None:
        """Forget the PC (its connection broke): a fresh one is offered with the same tracks."""
        await self._close_pc()
        self.negotiate()

    async def _close_pc(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for track_id, sub in list(self.subs.items()):
            self._stop_forwarding(sub)
            self.subs[track_id] = Subscription(sub.source, DownTrack(sub.source, self.egress))
        self.egress.shut()
        self._owner.clear()
        self._removing.clear()
        self._free.clear()
        self._outstanding = False
        self._ice_restart = self._ice_restart_offered = False
        self._offered, self._offered_codecs = [], {}
        self.sequence = TransportSequence()
        self._answered = {}
        pc, self.pc = self.pc, None
        if pc is not None:
            for t in pc.getTransceivers():
                if isinstance(t.sender.track, ForwardedTrack):
                    t.sender.track.stop()
            await pc.close()

    async def close(self) -> None:
        self.closed = True
        await self._close_pc()
        self.subs.clear()
        self.egress.close()
