"""The entry policy the control plane recorded for a meeting, read by the edge that opens it.

The control plane keeps a meeting's lock and participant limit (:class:`nodes.wire.MeetingPolicy`)
under ``<meeting>.policy`` in the placement bucket, next to its placement, whenever they change. An
edge opening a meeting reads it before it seats the first participant, so a token issued before a
change made while no edge hosted the meeting does not get round it. A read that fails (cut off
from the hub, no entry, a timeout) leaves the token's own snapshot.
"""

from __future__ import annotations

import logging

import msgspec
from nats.js.errors import NotFoundError

from nodes import subjects, wire
from nodes.bus import Bus

log = logging.getLogger(__name__)

_decoder = msgspec.json.Decoder(wire.MeetingPolicy)


class PolicyReader:
    def __init__(self, bus: Bus, *, domain: str | None, timeout: float) -> None:
        self.bus, self.domain, self.timeout = bus, domain, timeout

    async def read(self, meeting_id: str) -> wire.MeetingPolicy | None:
        subject = f"$KV.{subjects.PLACEMENT_BUCKET}.{subjects.policy_key(meeting_id)}"
        try:
            js = self.bus.nc.jetstream(domain=self.domain, timeout=self.timeout)
            msg = await js.get_last_msg(f"KV_{subjects.PLACEMENT_BUCKET}", subject)
        except NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - cut off, no permission, timeout: the token's snapshot
            log.info("meeting policy not readable", extra={"meeting": meeting_id, "error": repr(exc)})
            return None
        if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
            return None
        try:
            return _decoder.decode(msg.data)
        except msgspec.DecodeError:
            return None
