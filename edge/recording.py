"""A moderator's ``record`` request, carried to the control plane: ``cc.edge.<this edge>.record``.

The conference calls :class:`RecordingRequests` (its ``recording_control`` hook) with the
meeting, the action and who asks; the control plane decides (the edge hosts the meeting, the
account may record) and starts or stops the recorder, so a recording is started by one function
whoever asks (docs/recording.md). Its refusal, or no answer, becomes the request's ``error``.
"""

from __future__ import annotations

import msgspec
import nats.errors

from nodes import subjects, wire
from nodes.bus import Bus

from .conference.interfaces import Refusal


class RecordingRequests:
    def __init__(self, bus: Bus, *, edge_id: str, timeout: float) -> None:
        self.bus, self.edge_id, self.timeout = bus, edge_id, timeout

    async def __call__(self, meeting_id: str, action: str, account_id: str, participant_id: str) -> None:
        request = wire.RecordControl(meeting_id=meeting_id, action=action,  # type: ignore[arg-type]
                                     account_id=account_id, participant_id=participant_id)
        try:
            msg = await self.bus.nc.request(subjects.edge_record(self.edge_id), wire.encode(request),
                                            timeout=self.timeout)
            reply = wire.record_reply_decoder.decode(msg.data)
        except nats.errors.NoRespondersError:
            raise Refusal("unavailable", "the control plane is not reachable: try again shortly") from None
        except (nats.errors.TimeoutError, TimeoutError):
            raise Refusal("unavailable", f"the control plane did not answer within {self.timeout:g} s") from None
        except (nats.errors.Error, msgspec.DecodeError) as exc:
            raise Refusal("unavailable", f"cannot reach the control plane: {exc}") from None
        match reply:
            case wire.RecordReply(ok=True):
                return
            case wire.RecordReply():
                raise Refusal(reply.code or "recording_refused", reply.error or "the control plane refused")
            case _:
                raise Refusal("unavailable", f"the control plane failed: {reply.detail or reply.error}")
