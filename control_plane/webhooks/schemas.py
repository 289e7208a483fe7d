from __future__ import annotations

import msgspec


class DeliveryRead(msgspec.Struct):
    """One event's delivery to one endpoint, as the delivery log shows it."""

    #: The Standard Webhooks message id (``webhook-id``), the same on every attempt.
    webhook_id: str
    endpoint: str
    type: str
    meeting_id: str
    #: ``pending`` (waiting for its next attempt), ``delivered`` or ``failed`` (attempts used up).
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str | None
    last_attempt_at: str | None
    delivered_at: str | None
    #: HTTP status of the last answer (None: no answer: a timeout or a refused connection).
    last_status: int | None
    last_error: str
