"""Sharing a subscriber's downlink among the tracks it receives.

:func:`allocate` is the policy, a pure function: audio is always sent (its bitrate comes off the
top); then video, most important first — screen shares, then the active speaker's camera, then
the other cameras, larger tiles before smaller ones. Each shown video track first gets its lowest
layer while the budget lasts (those that do not fit are **paused**: nothing is sent rather than
a queue that drops packets); what is left raises tracks, in the same order, up to the smallest
layer that covers their tile (no tile size: the top layer). Hidden tracks get nothing.

:class:`Allocator` applies the policy to one subscriber over time: decreases at once, increases
**carefully** — one layer of one track at a time, at most once per :data:`STEP_UP_INTERVAL`, and
when a step up is followed by a drop of the estimate the next one waits twice as long (up to
:data:`MAX_BACKOFF`). A subscriber whose client has sent no usable feedback for
:data:`FEEDBACK_TIMEOUT` seconds gets every video at its lowest layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HEADROOM = 0.9  # of the estimate that a step up must fit in
KEEP = 1.1  # × the estimate that what flows may take before it is lowered (measurements are noisy)
STEP_UP_INTERVAL = 2.0  # seconds between step-ups
MAX_BACKOFF = 32.0
FEEDBACK_TIMEOUT = 3.0
AUDIO_DEFAULT = 64_000  # bits/s assumed for audio that has not been measured yet

#: Priorities (lower first).
SCREEN, SPEAKER, CAMERA = 0, 1, 2

Layer = int | None  # None: paused


@dataclass
class Demand:
    """One track as the allocator sees it."""
    track_id: str
    video: bool
    #: Measured bits/s of each layer (layer 0 is the lowest); 0 when not known.
    bitrates: list[float]
    #: (width, height) of each layer, None where not known.
    sizes: list[tuple[int, int] | None] = field(default_factory=list)
    priority: int = CAMERA
    #: The tile the subscriber shows it in (device pixels), None: no size limit.
    tile: tuple[int, int] | None = None
    hidden: bool = False


def fitting_layer(sizes: list[tuple[int, int] | None], layers: int, tile: tuple[int, int] | None) -> int:
    """The smallest layer that covers *tile* (the top one when none does, or nothing is known)."""
    top = layers - 1
    if tile is None or top <= 0:
        return max(top, 0)
    known = sizes[top] if len(sizes) > top else None
    for i in range(layers):
        size = sizes[i] if i < len(sizes) else None
        if size is None and known is not None:
            scale = 2 ** (top - i)  # simulcast layers usually halve each step
            size = (known[0] // scale, known[1] // scale)
        if size is None:
            return top
        if size[0] >= tile[0] * 0.9 or size[1] >= tile[1] * 0.9:
            return i
    return top


def _order(d: Demand) -> tuple[int, int, str]:
    area = d.tile[0] * d.tile[1] if d.tile else 1 << 30
    return (d.priority, -area, d.track_id)


def allocate(budget: float, demands: list[Demand], *, pause: bool = True) -> dict[str, Layer]:
    """The layer of each video track (None: paused) for *budget* bits/s. Without *pause*, a shown
    track that does not fit gets its lowest layer all the same."""
    for d in demands:
        if not d.video:
            budget -= d.bitrates[0] if d.bitrates and d.bitrates[0] > 0 else AUDIO_DEFAULT
    chosen: dict[str, Layer] = {}
    shown = sorted((d for d in demands if d.video and not d.hidden), key=_order)
    for d in demands:
        if d.video and d.hidden:
            chosen[d.track_id] = None
    for d in shown:
        cost = d.bitrates[0] if d.bitrates else 0.0
        if cost <= budget or not pause:
            chosen[d.track_id] = 0
            budget -= cost
        else:
            chosen[d.track_id] = None
    for d in shown:
        if chosen[d.track_id] is None:
            continue
        best = fitting_layer(d.sizes, len(d.bitrates), d.tile)
        for layer in range(best, 0, -1):
            rate = d.bitrates[layer]
            if rate <= 0:
                continue  # not flowing now (the publisher dropped it): cannot be chosen
            extra = rate - d.bitrates[0]
            if extra <= budget:
                chosen[d.track_id] = layer
                budget -= extra
                break
    return chosen


def wanted(demands: list[Demand], layers: Mapping[str, Layer]) -> float:
    """Bits/s of *demands* at *layers* (audio always)."""
    total = 0.0
    for d in demands:
        if not d.video:
            total += d.bitrates[0] if d.bitrates and d.bitrates[0] > 0 else AUDIO_DEFAULT
        elif (layer := layers.get(d.track_id)) is not None:
            total += d.bitrates[layer]
    return total


def _rank(layer: Layer) -> int:
    return -1 if layer is None else layer


@dataclass
class View:
    """What a subscriber shows: tile sizes of shown tracks, and hidden tracks."""
    tiles: dict[str, tuple[int, int]] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()


class Allocator:
    """One subscriber's layer choices over time."""

    def __init__(self) -> None:
        self.view = View()
        self.current: dict[str, Layer] = {}
        self.budget = 0.0
        #: Bits/s (with headroom) that everything shown would take at the layers its tiles want.
        self.wanted = 0.0
        self._next_up = 0.0
        self._interval = STEP_UP_INTERVAL
        self._up_at = -1e9
        self._up_estimate = 0.0
        #: Bits/s the path would have to prove before the next step up (0: no probe wanted).
        self.probe_target = 0.0

    def demands_view(self, demand: Demand) -> Demand:
        demand.tile = self.view.tiles.get(demand.track_id)
        demand.hidden = demand.track_id in self.view.hidden
        return demand

    def decide(self, estimate: float, demands: list[Demand], now: float, *, no_feedback: bool = False,
               congested: bool = True, up_limit: float | None = None) -> dict[str, Layer]:
        """The layers from now on, by track id (video tracks only). Until the subscriber's path
        has shown congestion, the estimate is a guess and nothing is paused: every shown track
        gets at least its lowest layer (a single-layer camera over the initial guess is not held
        back). With *up_limit* (bits/s the path has proven it carries), a step up must fit that
        too; one that fits only the estimate sets :attr:`probe_target`. Sets :attr:`wanted`."""
        self.probe_target = 0.0
        for d in demands:
            self.demands_view(d)
        video = [d for d in demands if d.video]
        if no_feedback:
            decided: dict[str, Layer] = {d.track_id: None if d.hidden else 0 for d in video}
            self.current = decided
            return dict(decided)
        self.budget = estimate * HEADROOM
        self.wanted = wanted(demands, allocate(float("inf"), demands)) / HEADROOM
        # hysteresis: what flows is kept while it fits the whole estimate; a step up must fit
        # with headroom (and, when given, within what the path has proven)
        keep = allocate(estimate * KEEP, demands, pause=congested)
        hoped = allocate(self.budget, demands, pause=congested)
        ideal = hoped if up_limit is None else allocate(min(estimate, up_limit) * HEADROOM, demands, pause=congested)
        if estimate < self._up_estimate * 0.95 and now - self._up_at < 2 * STEP_UP_INTERVAL:
            # the last step up congested the path: wait longer before the next one
            self._interval = min(self._interval * 2, MAX_BACKOFF)
            self._next_up = now + self._interval
            self._up_at = -1e9
        elif now - self._up_at > 4 * self._interval and self._interval > STEP_UP_INTERVAL:
            self._interval = max(self._interval / 2, STEP_UP_INTERVAL)
        decided = {}
        ups: list[Demand] = []
        for d in sorted(video, key=_order):
            have = self.current.get(d.track_id, -2)
            if d.track_id not in self.current:
                # a new track starts where the policy puts it, or at its lowest layer if that fits
                start = ideal.get(d.track_id)
                if start is None:
                    start = keep.get(d.track_id)
                    if start is not None and up_limit is not None:
                        start = 0  # higher layers wait for the path to prove them
                decided[d.track_id] = start
            elif _rank(keep.get(d.track_id)) < _rank(have):
                decided[d.track_id] = keep.get(d.track_id)  # a decrease: at once
            else:
                decided[d.track_id] = have
                if _rank(ideal.get(d.track_id)) > _rank(have):
                    ups.append(d)
        if ups and now >= self._next_up:
            d = ups[0]
            have = decided[d.track_id]
            step: Layer = 0 if have is None else have + 1
            if not d.hidden:
                decided[d.track_id] = step
                self._next_up = now + self._interval
                self._up_at = now
                self._up_estimate = estimate
        elif not ups and up_limit is not None:
            # the estimate would take a step that the path has not proven: what to probe for
            for d in sorted(video, key=_order):
                have = decided[d.track_id]
                if not d.hidden and _rank(hoped.get(d.track_id)) > _rank(have):
                    stepped = dict(decided)
                    stepped[d.track_id] = 0 if have is None else have + 1
                    self.probe_target = wanted(demands, stepped) / HEADROOM
                    break
        self.current = decided
        return dict(decided)

    def set_view(self, tiles: Mapping[str, tuple[int, int]], hidden: frozenset[str]) -> None:
        self.view = View(dict(tiles), hidden)
