"""Webhooks: an organisation's endpoints, and the worker that delivers the events concerning it.

From the outbox, `handle_webhooks` records one delivery per (endpoint, event) (unique, so a replayed
batch adds nothing) in its own committed transaction; `tick_webhook_deliveries`, which the worker runs
after every drain, sends them, so no request to a receiver is made while the outbox batch holds its
locks, and a delivery survives a worker that dies. Sending takes a lease (`next_attempt_at`
moves ahead first); a failure waits with exponential backoff, retried for `webhook_retry_hours`.
Receivers get each event at least once and drop repeats by its `id`. Each request is signed:
`X-Signature: sha256=HMAC-SHA256(secret, "<X-Webhook-Timestamp>." + body)`.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import WEBHOOK_EVENTS, WebhookCreate, WebhookDelivery, WebhookEndpoint
from schemas.enums import DeliveryStatus
from services import audit
from services.errors import Invalid, NotFound
from services.metrics import WEBHOOK_DELIVERY_FAILURES
from services.principal import Principal

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)  # a sender that died frees its delivery after this
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
BATCH = 50


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
                or ip.is_unspecified)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, environment: str) -> str:
    """https everywhere; plain http only to loopback outside production. A literal private address is refused
    in production here, a name that resolves to one when sending (`resolve_public`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise Invalid("an endpoint is an https URL without credentials", code="webhook.bad_url", field="body.url")
    if environment == "production":
        if parts.scheme != "https":
            raise Invalid("endpoints are https in production", code="webhook.bad_url", field="body.url")
        try:
            if not _public(host):
                raise Invalid("endpoints may not be internal addresses", code="webhook.bad_url", field="body.url")
        except ValueError:
            pass  # a name: checked at each delivery, where it is resolved
    elif parts.scheme == "http" and not _loopback(host):
        raise Invalid("plain http is allowed only to loopback, outside production", code="webhook.bad_url",
                      field="body.url")
    return url


async def resolve_public(host: str) -> None:
    """Production: every address the name resolves to must be public (no link-local, private, loopback)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    if not infos or not all(_public(info[4][0]) for info in infos):
        raise ValueError(f"{host} resolves to an internal address")


# --- endpoints ------------------------------------------------------------------------------------------

def readable(principal: Principal):
    stmt = select(WebhookEndpoint)
    return stmt if principal.is_operator else stmt.where(WebhookEndpoint.organisation_id == principal.organisation_id)


async def get_endpoint(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await session.scalar(readable(principal).where(WebhookEndpoint.id == endpoint_id))
    if endpoint is None:
        raise NotFound("webhook not found", code="webhook.not_found")
    return endpoint


async def create(session: AsyncSession, principal: Principal, body: WebhookCreate, environment: str) -> WebhookEndpoint:
    for i, event in enumerate(body.events):
        if event not in WEBHOOK_EVENTS:
            raise Invalid(f"unknown event {event!r}; one of {', '.join(WEBHOOK_EVENTS)}", code="webhook.unknown_event",
                          field=f"body.events.{i}")
    endpoint = WebhookEndpoint(organisation_id=principal.organisation_id, url=check_url(body.url, environment),
                               events=sorted(set(body.events)), secret="whsec_" + secrets.token_urlsafe(32),
                               created_by=principal.user_id)
    session.add(endpoint)
    await session.flush()
    audit.record(session, principal, "webhook.created", "webhook", endpoint.id,
                 {"url": {"before": None, "after": endpoint.url}, "events": {"before": None, "after": endpoint.events}})
    return endpoint


async def list_endpoints(session: AsyncSession, principal: Principal) -> list[WebhookEndpoint]:
    return list((await session.scalars(readable(principal).order_by(WebhookEndpoint.created_at))).all())


async def deactivate(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID) -> None:
    endpoint = await get_endpoint(session, principal, endpoint_id)
    if endpoint.active:
        endpoint.active = False
        audit.record(session, principal, "webhook.deleted", "webhook", endpoint.id,
                     {"active": {"before": True, "after": False}})


async def deliveries(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, limit: int,
                     status: DeliveryStatus | None) -> list[WebhookDelivery]:
    await get_endpoint(session, principal, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list((await session.scalars(stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                                       .limit(limit))).all())


async def redeliver(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID,
                    delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivery again (whatever its status): the worker picks it up at once. Retries stop, as for
    any delivery, once it is `webhook_retry_hours` old."""
    await get_endpoint(session, principal, endpoint_id)
    delivery = await session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id).with_for_update())
    if delivery is None:
        raise NotFound("delivery not found", code="webhook.delivery_not_found")
    before = delivery.status
    delivery.status, delivery.next_attempt_at = DeliveryStatus.pending, datetime.now(UTC)
    audit.record(session, principal, "webhook.redelivered", "webhook_delivery", delivery.id,
                 {"status": {"before": before, "after": DeliveryStatus.pending}})
    return delivery


# --- the worker -----------------------------------------------------------------------------------------

def _body(event) -> dict:
    data = {k: v for k, v in (event.payload or {}).items() if k != "organisation_ids"}
    return {"id": event.id, "type": event.topic, "created_at": event.created_at.isoformat(), "data": data}


async def handle_webhooks(ctx, events) -> None:
    """Outbox events → one pending delivery per subscribed endpoint of an organisation the event concerns
    (its payload's `organisation_ids`); the tick sends them."""
    wanted = [e for e in events if e.topic in WEBHOOK_EVENTS and e.payload.get("organisation_ids")]
    if not wanted:
        return
    async with ctx.sessions() as session, session.begin():
        orgs = {org for e in wanted for org in e.payload["organisation_ids"]}
        endpoints = (await session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.active, WebhookEndpoint.organisation_id.in_([uuid.UUID(o) for o in orgs])))).all()
        rows = [{"id": uuid.uuid4(), "endpoint_id": endpoint.id, "event_id": event.id, "topic": event.topic,
                 "body": _body(event), "status": DeliveryStatus.pending, "attempts": 0}
                for event in wanted for endpoint in endpoints if event.topic in endpoint.events
                and str(endpoint.organisation_id) in event.payload["organisation_ids"]]
        if not rows:
            return
        await session.execute(insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
            constraint="uq_delivery_event"))


async def tick_webhook_deliveries(ctx, now: datetime) -> None:
    """New deliveries, retries whose backoff ran out, redeliveries, and deliveries whose sender died (lease
    expired)."""
    await deliver_due(ctx, now)


async def claim_due(ctx, now: datetime) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Take due deliveries under a lease: another worker skips them until `now + LEASE`."""
    async with ctx.sessions() as session, session.begin():
        due = (await session.execute(
            select(WebhookDelivery, WebhookEndpoint).join(WebhookEndpoint)
            .where(WebhookDelivery.status == DeliveryStatus.pending, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at).limit(BATCH)
            .with_for_update(of=WebhookDelivery, skip_locked=True))).all()
        for delivery, _ in due:
            delivery.attempts += 1
            delivery.next_attempt_at = now + LEASE
        return [tuple(row) for row in due]


async def deliver_due(ctx, now: datetime) -> int:
    claimed = await claim_due(ctx, now)
    if not claimed:
        return 0
    settings = ctx.settings
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as http:
        results = [(delivery, await _send(http, settings, endpoint, delivery, now)) for delivery, endpoint in claimed]
    async with ctx.sessions() as session, session.begin():
        for delivery, (code, error) in results:
            row = await session.get(WebhookDelivery, delivery.id, with_for_update=True)
            row.last_status_code, row.last_error = code, error
            if error is None:
                row.status, row.delivered_at = DeliveryStatus.delivered, now
                continue
            WEBHOOK_DELIVERY_FAILURES.labels("http_status" if code else "transport").inc()
            if now - row.created_at >= timedelta(hours=settings.webhook_retry_hours):
                row.status = DeliveryStatus.failed
            else:
                row.next_attempt_at = now + backoff(row.attempts)
    return len(results)


async def _send(http: httpx.AsyncClient, settings, endpoint: WebhookEndpoint, delivery: WebhookDelivery,
                now: datetime) -> tuple[int | None, str | None]:
    """(status code, error or None)."""
    if not endpoint.active:
        return None, "endpoint deleted"
    body = json.dumps(delivery.body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "X-Webhook-Id": str(delivery.event_id),
               "X-Webhook-Timestamp": timestamp, "X-Signature": sign(endpoint.secret, timestamp, body),
               "User-Agent": "kechuangtong-market-webhooks"}
    try:
        check_url(endpoint.url, settings.environment)
        if settings.environment == "production":
            await resolve_public(urlsplit(endpoint.url).hostname)
        response = await http.post(endpoint.url, content=body, headers=headers)
    except (httpx.HTTPError, OSError, ValueError, Invalid) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"
