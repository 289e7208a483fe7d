"""Recorder service settings (TOML → msgspec). Annotated example: ``configs/recorder.toml``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nodes.metrics import MetricsSettings
from nodes.settings import Base, HttpSettings, LogSettings, NatsSettings


class Settings(Base, kw_only=True):
    #: Unique id of this recorder service (letters, digits, ``-`` and ``_``); its NATS user may
    #: publish only ``cc.cp.rec.<recorder_id>.>`` (docs/subjects.md).
    recorder_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "recorder-1"
    #: Where recordings are written, one folder per recording. The control plane serves them from
    #: its ``recordings.dir``: the same folder (on one machine), or a shared mount.
    dir: str = "var/recordings"
    #: Seconds a start waits for the edge to seat the recorder before it is refused.
    join_timeout: float = 10.0
    #: Seconds a recording keeps looking for its meeting after losing its edge (the meeting moves
    #: to another edge) before it ends.
    follow_timeout: float = 60.0
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    http: HttpSettings = msgspec.field(default_factory=lambda: HttpSettings(port=8090))
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
