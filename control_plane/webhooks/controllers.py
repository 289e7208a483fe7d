"""``GET /api/v1/webhooks/deliveries``: the webhook delivery log, for admins."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import Parameter

from ..auth.principal import Principal, require_role
from ..errors import FieldError
from .payloads import iso
from .repository import DeliveryRepository
from .schemas import DeliveryRead
from .settings import EVENT_TYPES

STATUSES = ("pending", "delivered", "failed")


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]

    @get("/deliveries", summary="The webhook delivery log, newest first (admin)")
    async def deliveries(self, request: Request, principal: Principal,
                         endpoint: str = Parameter(default="", max_length=2000,
                                                   description="an endpoint's name (default: its URL)"),
                         status: str = Parameter(default="", description="pending, delivered or failed"),
                         type: str = Parameter(default="", description="an event type, e.g. meeting.started"),
                         limit: int = Parameter(default=100, ge=1, le=1000)) -> list[DeliveryRead]:
        require_role(principal, "admin", "read the webhook delivery log")
        if status and status not in STATUSES:
            raise FieldError("status", f"must be one of {', '.join(STATUSES)}")
        if type and type not in EVENT_TYPES:
            raise FieldError("type", f"must be one of {', '.join(EVENT_TYPES)}")
        rows = await DeliveryRepository(request.app.state.services.db).listing(
            endpoint=endpoint, status=status, event_type=type, limit=limit)
        return [DeliveryRead(webhook_id=r["webhook_id"], endpoint=r["endpoint"], type=r["event_type"],
                             meeting_id=r["meeting_id"], status=r["status"], attempts=r["attempts"],
                             created_at=iso(r["created_at"]) or "",
                             next_attempt_at=iso(r["next_attempt_at"]) if r["status"] == "pending" else None,
                             last_attempt_at=iso(r["last_attempt_at"]), delivered_at=iso(r["delivered_at"]),
                             last_status=r["last_status"], last_error=r["last_error"]) for r in rows]
