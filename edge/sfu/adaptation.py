"""A room's bandwidth adaptation: each subscriber's estimate and layers, and REMB to publishers.

Every participant that subscribes has a :class:`SubscriberRate`: its :class:`~.bandwidth.Downlink`
fed by the RTCP its subscribe PC receives (tapped whole, :func:`~.aiortc_hooks.tap_rtcp`), and
its :class:`~.allocation.Allocator`. Twice a second (:data:`INTERVAL`), and at once when a
subscriber's tracks or view change, the room's :class:`Adaptation` decides every subscriber's
layers and sets them on its down tracks (``DownTrack.set_target``; ``None`` pauses a video).

Towards publishers: each published video track may be sent at most at what its best-served
subscriber can use — the layers it receives plus what is left of its budget (a single-layer
publisher then encodes for the subscribers it has, rather than be paused for them). The sum for a
publisher's tracks (and its audio) goes out as REMB on its publish PC once a second, and caps the
REMB aiortc's own receive-side estimator sends (:func:`~.aiortc_hooks.cap_remb`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

from . import aiortc_hooks as hooks
from .allocation import AUDIO_DEFAULT, CAMERA, FEEDBACK_TIMEOUT, SCREEN, SPEAKER, Allocator, Demand
from .bandwidth import Downlink
from .probe import Prober

if TYPE_CHECKING:
    from .egress import Egress
    from .forwarder import TrackSource
    from .peer import Peer
    from .room import Room
    from .subscriber import SubscribeSide

log = logging.getLogger(__name__)

INTERVAL = 0.5  # seconds between decisions
REMB_EVERY = 2  # decisions between REMBs to publishers
MIN_PUBLISH = 100_000  # bits/s a published video is always allowed
NO_CAP = 50_000_000
HEADER_BYTES = 40  # RTP, SRTP, UDP and IP headers of a packet
LAYER_RATIO = 3.0  # a simulcast layer has four times the pixels of the one below it
OVERHEAD = 1.1  # RTP, SRTP, UDP and IP headers on top of the payload bitrate a source measures


def demand(source: TrackSource, speaker: str | None) -> Demand:
    n = max(source.layers, 1)
    video = source.kind == "video"
    priority = (SCREEN if source.info.source == "screen" else
                SPEAKER if source.info.participant_id == speaker else CAMERA)
    return Demand(source.track_id, video, layer_costs([OVERHEAD * source.layer_bitrate(i) for i in range(n)]),
                  [source.layer_size(i) for i in range(n)] if video else [], priority)


def layer_costs(measured: list[float]) -> list[float]:
    """What each layer will cost: its measured bitrate, but a flowing layer at least
    :data:`LAYER_RATIO` × the one below it. A layer nobody receives measures low — the publisher
    was told (REMB) to spend little on it — and costs what it costs again once it is wanted."""
    costs = list(measured)
    for i in range(1, len(costs)):
        if costs[i] > 0 and costs[i - 1] > 0:
            costs[i] = max(costs[i], LAYER_RATIO * costs[i - 1])
    return costs


class SubscriberRate:
    """One subscriber's downlink estimate and layer choices."""

    def __init__(self, subscriber: SubscribeSide, egress: Egress) -> None:
        self.subscriber = subscriber
        self.egress = egress
        self.downlink = Downlink()
        self.allocator = Allocator()
        self.prober = Prober(egress, self.downlink)
        #: When its subscribe PC last connected (None: not connected).
        self.opened_at: float | None = None
        self.sent_bps = 0.0
        #: Bits/s sent of each stream, by SSRC.
        self.rates: dict[int, float] = {}
        self._counts: dict[int, tuple[int, int]] = {}
        self._sent_at = time.monotonic()
        #: Bits/s of each track this subscriber could take (its layers plus its spare budget).
        self.usable: dict[str, float] = {}
        self.feedback_packets = 0

    def on_rtcp(self, data: bytes) -> None:
        rates = {dt.ssrc: self.rates.get(dt.ssrc, 0.0) for dt in self.egress.downtracks}
        if self.downlink.on_rtcp(data, rates, self.subscriber.sequence):
            self.feedback_packets += 1

    def measure(self, now: float) -> None:
        """Bits/s sent of each stream (by SSRC) since the last measurement."""
        then = self._sent_at
        if now - then < 0.25:
            return
        counts: dict[int, tuple[int, int]] = {}
        rates: dict[int, float] = {}
        for dt in self.egress.downtracks:
            octets, packets = self._counts.get(dt.ssrc, (dt.octets, dt.packets))
            counts[dt.ssrc] = (dt.octets, dt.packets)
            rates[dt.ssrc] = 8 * (dt.octets - octets + HEADER_BYTES * (dt.packets - packets)) / (now - then)
        self._counts, self.rates, self._sent_at = counts, rates, now
        self.sent_bps = sum(rates.values())

    def no_feedback(self, now: float) -> bool:
        if self.opened_at is None or now - self.opened_at < FEEDBACK_TIMEOUT:
            return False
        silent = self.downlink.silent_for(now)
        return silent is None or silent > FEEDBACK_TIMEOUT

    def decide(self, now: float, speaker: str | None) -> None:
        subs = [s for s in self.subscriber.subs.values() if s.active]
        demands = [demand(s.source, speaker) for s in subs]
        # with transport-wide feedback, a step up waits until the path has proven it (probing);
        # before any feedback, nothing steps up from where it starts
        probing = self.downlink.transport_wide(now) and self.prober.carrier() is not None
        up_limit = (self.downlink.proven_rate(now) if probing else
                    0.0 if self.downlink.last_feedback is None else None)
        layers = self.allocator.decide(self.downlink.estimate, demands, now, no_feedback=self.no_feedback(now),
                                       congested=self.downlink.congested_lately(now), up_limit=up_limit)
        self.downlink.wanted = self.allocator.wanted
        shown = [d for d in demands if d.video and not d.hidden]
        self.downlink.video_paused = bool(shown) and all(layers.get(d.track_id) is None for d in shown)
        cost = 0.0
        for d in demands:
            if not d.video:
                cost += d.bitrates[0] or AUDIO_DEFAULT
                continue
            chosen = layers.get(d.track_id)
            if chosen is not None:
                cost += d.bitrates[min(chosen, len(d.bitrates) - 1)]
        if probing and self.allocator.probe_target > 0:
            self.prober.start(self.allocator.probe_target, self.sent_bps, now, holding=cost)
        spare = max(self.allocator.budget - cost, 0.0)
        usable: dict[str, float] = {}
        for s, d in zip(subs, demands, strict=True):
            if not d.video:
                continue
            target = layers.get(d.track_id)
            if target is None:
                usable[d.track_id] = 0.0 if d.hidden else spare
            else:
                usable[d.track_id] = sum(d.bitrates[:target + 1]) + spare
            dt = s.downtrack
            if dt.target != target:
                log.debug("%s receives %s at layer %s (estimate %d b/s from %s, budget %d, layers %s)",
                          self.subscriber.participant_id, d.track_id, target, self.downlink.estimate,
                          self.downlink.source or "nothing", self.allocator.budget,
                          [int(b) for b in d.bitrates])
                dt.set_target(target)
        self.usable = usable


class Adaptation:
    """Bandwidth adaptation for every participant of a room."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self._timer: asyncio.TimerHandle | None = None
        self._ticks = 0
        self._tasks: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(INTERVAL, self._tick)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()

    def _tick(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(INTERVAL, self._tick)
        self._ticks += 1
        try:
            self.decide_all()
            if self._ticks % REMB_EVERY == 0:
                self.tell_publishers()
        except Exception:  # noqa: BLE001 — adaptation must never stop the room
            log.exception("bandwidth adaptation failed in room %s", self.room.room_id)

    def decide_all(self) -> None:
        now = time.monotonic()
        speaker = self.room.speaker.current
        for peer in self.room.peers.values():
            rate = peer.rate
            if rate is not None:
                rate.measure(now)
                rate.decide(now, speaker)

    def decide(self, peer: Peer) -> None:
        """Decide one subscriber's layers now (its tracks or view changed)."""
        if peer.rate is not None and not peer.closed:
            peer.rate.decide(time.monotonic(), self.room.speaker.current)

    def set_view(self, peer: Peer, tiles: Mapping[str, tuple[int, int]], hidden: frozenset[str]) -> None:
        if peer.rate is None:
            return
        peer.rate.allocator.set_view({t: size for t, size in tiles.items() if size[0] > 0 and size[1] > 0},
                                     hidden)
        self.decide(peer)

    # --- towards publishers ---

    def caps(self) -> dict[str, float]:
        """Bits/s each local video track may be published at: what its best-served subscriber can
        use. A track relayed to another edge is uncapped: that edge's subscribers are not known here."""
        best: dict[str, float] = {}
        for relay in self.room.relays.out.values():
            if not relay.closed:
                for track_id in relay.wanted:
                    best[track_id] = float("inf")
        for peer in self.room.peers.values():
            if peer.rate is None:
                continue
            for track_id, usable in peer.rate.usable.items():
                best[track_id] = max(best.get(track_id, 0.0), usable)
        return best

    def publisher_cap(self, peer: Peer, caps: Mapping[str, float]) -> int | None:
        total = 0.0
        video = False
        for publication in peer.publications.values():
            source = publication.source
            if source is None:
                continue
            if source.kind == "audio":
                total += AUDIO_DEFAULT
                continue
            video = True
            total += max(caps.get(source.track_id, 0.0), MIN_PUBLISH)
        if not video or total >= NO_CAP:
            return None
        return int(total)

    def tell_publishers(self) -> None:
        caps = self.caps()
        for peer in self.room.peers.values():
            cap = self.publisher_cap(peer, caps)
            peer.remb_cap = cap
            if cap is None:
                continue
            feeds = [p.feed for p in peer.publications.values() if p.source is not None and p.source.kind == "video"]
            ssrcs = [ssrc for f in feeds for ssrc in f.ssrcs]
            if feeds and ssrcs:
                self._spawn(hooks.send_remb(feeds[0].receiver, cap, ssrcs))

    def _spawn(self, aw: Awaitable[None] | None) -> None:
        if aw is None:
            return
        task = asyncio.ensure_future(aw)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a REMB to a publisher could not be sent: %s", task.exception())
