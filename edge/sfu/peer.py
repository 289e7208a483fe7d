"""A participant's two peer connections: publish (the client offers) and subscribe (the edge offers).

The publish PC receives what the participant sends. Each of its receivers is tapped the moment
aiortc creates it (:func:`~edge.sfu.aiortc_hooks.on_new_transceiver`): a
:class:`~edge.sfu.forwarder.ReceiverFeed` takes its packets before any decoding could happen and
feeds the published :class:`~edge.sfu.forwarder.TrackSource` once the offer is accepted.

The subscribe side lives in :mod:`edge.sfu.subscriber`; both PCs report their connection state
to the room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from . import aiortc_hooks as hooks
from . import sdp, simulcast
from .adaptation import SubscriberRate
from .egress import Egress
from .forwarder import ReceiverFeed, TrackSource
from .interfaces import Grants, IceCandidate, PcRole, SdpError, SfuConfig, UnknownPeerError
from .subscriber import SubscribeSide

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)


def rtc_configuration(config: SfuConfig) -> RTCConfiguration:
    servers = []
    extra = config.turn_servers() if config.turn_servers is not None else ()
    for server in (*config.ice_servers, *extra):
        try:
            servers.append(RTCIceServer(urls=server["urls"], username=server.get("username"),
                                        credential=server.get("credential")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"ice server {server!r} needs 'urls' (and optionally username, credential)") from exc
    name = config.ice_transport_policy
    if name not in ("all", "relay"):
        raise ValueError(f"ice_transport_policy must be 'all' or 'relay', not {name!r}")
    urls = [u for s in servers for u in (s.urls if isinstance(s.urls, list) else [s.urls])]
    if name == "relay" and not any(u.startswith(("turn:", "turns:")) for u in urls):
        raise ValueError("ice_transport_policy 'relay' needs a TURN server")
    policy = RTCIceTransportPolicy.RELAY if name == "relay" else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE, iceTransportPolicy=policy)


@dataclass
class Publication:
    mid: str
    source_name: str
    feed: ReceiverFeed
    source: TrackSource | None = None


class Peer:
    def __init__(self, room: Room, participant_id: str, grants: Grants) -> None:
        self.room = room
        self.id = participant_id
        self.grants = grants
        self.publish_pc: RTCPeerConnection | None = None
        self.publications: dict[str, Publication] = {}  # publish PC mid → publication
        self._feeds: dict[RTCRtpTransceiver, ReceiverFeed] = {}
        self._publish_lock = asyncio.Lock()
        self.egress = Egress(room.config.subscriber_queue)
        self.egress.on_first_video = room.config.on_first_frame
        adaptive = room.config.adaptation and not grants.full_quality
        self.subscriber = SubscribeSide(participant_id, self.egress, self._new_pc,
                                        lambda offer: room.emit("on_subscriber_offer", participant_id, offer),
                                        stagger_new_kinds=True, on_ice_restarted=self._open_egress,
                                        feedback=adaptive)
        #: Its downlink estimate and layer choices (None: adaptation is off).
        self.rate = SubscriberRate(self.subscriber, self.egress) if adaptive else None
        if adaptive:
            self.subscriber.on_activated = lambda: room.decide(self)
        #: The most its publish PC may send, in bits/s (REMB), None: no cap.
        self.remb_cap: int | None = None
        self.closed = False

    # --- peer connections ---

    def _new_pc(self, role: PcRole) -> RTCPeerConnection:
        pc = RTCPeerConnection(rtc_configuration(self.room.config))
        dtls = hooks.prepare_dtls(pc)
        if role == "publish":
            hooks.on_new_transceiver(pc, self._tap)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "failed" and not self.closed:
                reason = hooks.failure_reason(pc, dtls)
                log.warning("peer connection failed: participant %s, %s PC: %s", self.id, role, reason,
                            extra={"participant": self.id, "pc": role, "reason": reason})
            self._on_state(role, pc)

        return pc

    def _tap(self, transceiver: RTCRtpTransceiver) -> None:
        self._feeds[transceiver] = ReceiverFeed(transceiver.receiver)
        if self.rate is not None:
            hooks.cap_remb(transceiver.receiver, lambda: self.remb_cap)

    def _on_state(self, role: PcRole, pc: RTCPeerConnection) -> None:
        current = self.publish_pc if role == "publish" else self.subscriber.pc
        if pc is not current or self.closed:
            return
        state = pc.connectionState
        if role == "subscribe":
            if state == "connected":
                self._open_egress(pc)
            else:
                self.egress.shut()
                if self.rate is not None:
                    self.rate.opened_at = None
                    self.rate.prober.stop()
        self.room.emit("on_peer_state", self.id, role, state)

    def _open_egress(self, pc: RTCPeerConnection) -> None:
        """Send to the subscriber on the subscribe PC's selected path (again, after an ICE restart)."""
        transceivers = pc.getTransceivers()
        path = hooks.send_path(transceivers[0].sender.transport) if transceivers else None
        if path is not None:
            self.egress.open(path)
            if self.rate is not None:
                hooks.tap_rtcp(transceivers[0].sender.transport, self.rate.on_rtcp)
                self.rate.opened_at = time.monotonic()
        else:
            log.warning("subscribe PC connected without a usable send path: nothing is forwarded",
                        extra={"participant": self.id})

    # --- publishing ---

    async def publish(self, text: str, sources: dict[str, str]) -> str:
        async with self._publish_lock:
            current = {mid: p.source_name for mid, p in self.publications.items() if p.source is not None}
            rids = {mid: tuple(p.feed.rids) for mid, p in self.publications.items() if p.feed.rids is not None}
            plan = sdp.plan_publish(text, sources, self.grants, current, rids)
            pc = self.publish_pc
            fresh = pc is None
            restart = pc is not None and self._begin_ice_restart(pc, plan.ice)
            if pc is None:
                pc = self._new_pc("publish")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=plan.sdp, type="offer"))
                for t in pc.getTransceivers():
                    hooks.route_by_mid(t.receiver.transport)
                    hooks.guard_rtcp(t.receiver.transport)
                    if t.mid in plan.simulcast:
                        hooks.negotiate_extensions(t, list(plan.simulcast[t.mid].extensions))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:  # noqa: BLE001
                if fresh:
                    await pc.close()
                    self._feeds.clear()
                raise SdpError(f"the offer was refused: {exc}") from exc
            if self.closed:  # removed from the room meanwhile
                await pc.close()
                raise UnknownPeerError(f"participant {self.id!r} left the room")
            if fresh:
                self.publish_pc = pc
            by_mid = {t.mid: t for t in pc.getTransceivers()}
            for mid in plan.stopped:
                self.room.unpublish(self, self.publications.pop(mid))
            for item in plan.sending:
                if item.mid in self.publications:
                    continue  # already published
                feed = self._feeds.get(by_mid[item.mid])
                if feed is None:
                    raise SdpError(f"mid {item.mid} has no receiver")  # cannot happen with aiortc 1.16
                assert item.codec.payloadType is not None   # an answered codec has its payload type
                feed.payload_type = item.codec.payloadType
                if item.simulcast is not None:
                    feed.simulcast(item.simulcast.rids)
                publication = Publication(item.mid, item.source, feed)
                self.publications[item.mid] = publication
                self.room.publish(self, publication, item)
            self.room.drop_orphans(self)
            if restart:
                self.subscriber.restart_ice()   # the client's network changed: the subscribe PC's path too
            return simulcast.answer(pc.localDescription.sdp, plan.simulcast)

    def _begin_ice_restart(self, pc: RTCPeerConnection, ice: tuple[str, str]) -> bool:
        """Restart ICE in place when a renegotiating offer brings new ICE credentials (RFC 8839
        §4.4.1.1.1); False when they are the ones in use. SdpError when the connection cannot
        keep its session (not established yet, or failed): the client restarts its media instead."""
        transceivers = pc.getTransceivers()
        if not transceivers:
            return False
        dtls = transceivers[0].receiver.transport
        if hooks.ice_credentials(dtls)[2:] == ice:
            return False
        why = hooks.ice_restart_refusal(dtls)
        if why:
            raise SdpError(f"the offer restarts ICE but {why}: resume with restart_media instead")
        hooks.begin_ice_restart(dtls)
        hooks.start_ice_checks(dtls, *ice, on_done=lambda ok: self._ice_restarted("publish", ok))
        return True

    def _ice_restarted(self, role: PcRole, ok: bool) -> None:
        log.log(logging.INFO if ok else logging.WARNING, "ICE restart of %s's %s connection %s", self.id, role,
                "completed" if ok else "failed: no candidate pair answered the new credentials")

    def unpublish_source(self, source_name: str) -> None:
        for mid, publication in list(self.publications.items()):
            if publication.source_name == source_name:
                self.room.unpublish(self, self.publications.pop(mid))

    # --- ICE ---

    async def add_ice_candidate(self, role: PcRole, candidate: IceCandidate) -> None:
        pc = self.publish_pc if role == "publish" else self.subscriber.pc
        if pc is None:
            raise SdpError(f"no {role} connection for {self.id} yet")
        text = candidate.candidate.strip()
        if not text:
            await pc.addIceCandidate(None)  # end of candidates
            return
        if candidate.sdp_mid is None and candidate.sdp_mline_index is None:
            raise SdpError("an ICE candidate needs sdp_mid or sdp_mline_index")
        try:
            parsed = candidate_from_sdp(text.removeprefix("a=").removeprefix("candidate:"))
        except Exception as exc:  # noqa: BLE001
            raise SdpError(f"unparsable ICE candidate {text!r}: {exc}") from exc
        if not 1 <= parsed.port <= 65535:  # aioice would try to send to it and fail in its timers
            raise SdpError(f"the ICE candidate {text[:100]!r} has port {parsed.port} (1 to 65535)")
        parsed.sdpMid = candidate.sdp_mid
        parsed.sdpMLineIndex = candidate.sdp_mline_index
        try:
            await pc.addIceCandidate(parsed)
        except Exception as exc:  # noqa: BLE001 - aiortc/aioice refuse a candidate in many ways
            raise SdpError(f"the ICE candidate {text[:100]!r} was refused: {type(exc).__name__} {exc}") from exc

    # --- lifecycle ---

    async def restart(self) -> None:
        """Rebuild both PCs; published tracks wait for the next publish offer to be fed again."""
        await self._close_publish()
        await self.subscriber.reset()

    async def _close_publish(self) -> None:
        for publication in self.publications.values():
            publication.feed.feed(None)
        self.publications.clear()
        self._feeds.clear()
        pc, self.publish_pc = self.publish_pc, None
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        self.closed = True
        if self.rate is not None:
            self.rate.prober.stop()
        await self._close_publish()
        await self.subscriber.close()

    def connection_states(self) -> dict[str, str]:
        return {"publish": self.publish_pc.connectionState if self.publish_pc else "new",
                "subscribe": self.subscriber.pc.connectionState if self.subscriber.pc else "new"}

