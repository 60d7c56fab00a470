"""Webhooks: an organisation's endpoints for events, their delivery log and manual redelivery."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from market.api.deps import Session
from market.auth import OrgManager
from schemas.brokers import DeliveryRead, WebhookCreate, WebhookRead
from schemas.enums import DeliveryStatus
from services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _read(endpoint, secret: bool = False) -> WebhookRead:
    return WebhookRead(id=endpoint.id, organisation_id=endpoint.organisation_id, url=endpoint.url,
                       events=endpoint.events, active=endpoint.active, created_at=endpoint.created_at,
                       secret=endpoint.secret if secret else None)


@router.post("", response_model=WebhookRead, status_code=status.HTTP_201_CREATED)
async def webhooks_create(body: WebhookCreate, request: Request, principal: OrgManager, session: Session):
    """Register an endpoint for events concerning your organisation (`lead.assigned`, `lead.stage_changed`,
    `introduction.recorded`). Each delivery is a POST of `{"id", "type", "created_at", "data"}` with
    `X-Webhook-Timestamp` and `X-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>` keyed by the
    endpoint's `secret`, which is shown only in this response. Failed deliveries are retried with
    exponential backoff for 24 h; drop repeats by `id`. https only in production."""
    endpoint = await webhooks.create(session, principal, body, request.app.state.settings.environment)
    return _read(endpoint, secret=True)


@router.get("", response_model=list[WebhookRead])
async def webhooks_list(principal: OrgManager, session: Session):
    """Your organisation's endpoints (without their secrets)."""
    return [_read(e) for e in await webhooks.list_endpoints(session, principal)]


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def webhooks_delete(webhook_id: uuid.UUID, principal: OrgManager, session: Session):
    """Stop delivering to an endpoint (its delivery log is kept)."""
    await webhooks.deactivate(session, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryRead])
async def webhooks_deliveries(webhook_id: uuid.UUID, principal: OrgManager, session: Session,
                              status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
                              limit: Annotated[int, Query(ge=1, le=100)] = 50):
    """The delivery log, newest first: status, attempts, the last status code and error."""
    return [DeliveryRead.model_validate(d, from_attributes=True)
            for d in await webhooks.deliveries(session, principal, webhook_id, limit, status_)]


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
async def webhooks_redeliver(webhook_id: uuid.UUID, delivery_id: uuid.UUID, principal: OrgManager, session: Session):
    """Send a delivery again; the worker picks it up at once."""
    delivery = await webhooks.redeliver(session, principal, webhook_id, delivery_id)
    return DeliveryRead.model_validate(delivery, from_attributes=True)
