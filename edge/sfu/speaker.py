"""The active speaker, from the audio levels publishers put in their RTP packets.

Browsers (and aiortc's own sender) carry the client-to-mixer audio level header extension
(RFC 6464, ``urn:ietf:params:rtp-hdrext:ssrc-audio-level``) when it is negotiated: one byte per
packet, the level of the audio in -dBov from 0 (loudest) to 127 (silence). The edge negotiates
it on every publish PC and reads it from the header — audio is never decoded. (aiortc's receiver
parses it into ``RtpPacket.extensions.audio_level`` but exposes nothing publicly, so the
forwarder passes it on from its receiver tap.)

Every ``interval`` seconds each participant gets a score: the mean of ``threshold - level``
over its packets since the last decision (0 for silence, i.e. a level above the threshold, or no
packets), smoothed over a few decisions. The loudest participant becomes the active speaker when
nobody is, or when it has clearly out-scored the current one for two decisions in a row
(hysteresis, so two people talking at once do not make it flap). After a second of silence from
everyone the active speaker is ``None``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

SMOOTHING = 0.5  # weight of the newest decision in the smoothed score
MIN_SCORE = 1.0  # below this a participant counts as silent
SWITCH_FACTOR = 1.2  # how much louder a challenger must be
SWITCH_DECISIONS = 2  # for how many decisions in a row
SILENCE = 1.0  # seconds of silence before there is no active speaker


class ActiveSpeaker:
    def __init__(self, threshold: int, interval: float, on_change: Callable[[str | None], None]) -> None:
        if not 0 <= threshold <= 127:
            raise ValueError("speaker_threshold must be within 0..127 (-dBov)")
        if interval <= 0:
            raise ValueError("speaker_interval must be positive")
        self.threshold = threshold
        self.interval = interval
        self._on_change = on_change
        self._sum: dict[str, int] = {}
        self._count: dict[str, int] = {}
        self.scores: dict[str, float] = {}
        self.current: str | None = None
        self._challenger: str | None = None
        self._lead = 0
        self._quiet = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def observe(self, participant_id: str, level: int) -> None:
        """One audio packet's level (0..127, -dBov)."""
        loud = self.threshold - level
        self._sum[participant_id] = self._sum.get(participant_id, 0) + (loud if loud > 0 else 0)
        self._count[participant_id] = self._count.get(participant_id, 0) + 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def forget(self, participant_id: str) -> None:
        """The participant stopped publishing audio (or left)."""
        self._sum.pop(participant_id, None)
        self._count.pop(participant_id, None)
        self.scores.pop(participant_id, None)
        if self._challenger == participant_id:
            self._challenger, self._lead = None, 0
        if self.current == participant_id:
            self._set(None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        for pid in set(self.scores) | set(self._count):
            count = self._count.get(pid, 0)
            now = self._sum.get(pid, 0) / count if count else 0.0
            self.scores[pid] = (1 - SMOOTHING) * self.scores.get(pid, 0.0) + SMOOTHING * now
        self._sum.clear()
        self._count.clear()
        self.decide()
        if any(score >= MIN_SCORE / 100 for score in self.scores.values()) or self.current is not None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def decide(self) -> None:
        """Pick the active speaker from the current scores."""
        best = max(self.scores, key=self.scores.__getitem__, default=None)
        if best is None or self.scores[best] < MIN_SCORE:
            self._challenger, self._lead = None, 0
            self._quiet += self.interval
            if self.current is not None and self._quiet >= SILENCE:
                self._set(None)
            return
        self._quiet = 0.0
        current_score = self.scores.get(self.current, 0.0) if self.current is not None else 0.0
        if self.current is None or current_score < MIN_SCORE:
            self._set(best)
            return
        if best == self.current or self.scores[best] < current_score * SWITCH_FACTOR:
            self._challenger, self._lead = None, 0
            return
        self._lead = self._lead + 1 if self._challenger == best else 1
        self._challenger = best
        if self._lead >= SWITCH_DECISIONS:
            self._set(best)

    def _set(self, participant_id: str | None) -> None:
        self._challenger, self._lead = None, 0
        if participant_id != self.current:
            self.current = participant_id
            self._on_change(participant_id)
