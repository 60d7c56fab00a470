"""Webhooks against a real receiver on 127.0.0.1: signed deliveries, retries, a worker dying between
attempts, the delivery log and manual redelivery."""

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.webhooks import claim_due, tick_webhook_deliveries
from tests.factories import create_lead


class Receiver:
    """A tiny HTTP/1.1 server: answers each request with the next status of `statuses` (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        self.requests.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()


async def _deliver(sync, ctx, now=None) -> None:
    """What the worker does: drain the outbox (deliveries recorded), then its tick sends them."""
    await sync()
    await tick_webhook_deliveries(ctx, now or datetime.now(UTC))


async def _hooked_lead(market, url: str):
    """A university's endpoint for stage changes, and a lead on its achievement worked by a broker."""
    uni = await market.organisation("university")
    created = await market.client.post("/v1/webhooks", headers=uni.headers,
                                       json={"url": url, "events": ["lead.stage_changed"]})
    assert created.status_code == 201, created.text
    hook = created.json()
    broker = await market.broker()
    lead = await create_lead(market, uni=uni)
    await market.client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
    moved = await market.client.post(f"/v1/leads/{lead['id']}/stage", headers=broker.headers,
                                     json={"stage": "contacted"})
    assert moved.status_code == 200
    return uni, hook, lead


def _valid(secret: str, headers: dict, body: bytes) -> bool:
    expected = hmac.new(secret.encode(), headers["x-webhook-timestamp"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-signature"], "sha256=" + expected.hexdigest())


async def test_an_event_is_delivered_signed_to_the_organisations_endpoint(client, market, sync, ctx):
    async with Receiver() as receiver:
        uni, hook, lead = await _hooked_lead(market, receiver.url)
        assert hook["secret"].startswith("whsec_")
        await _deliver(sync, ctx)
    [(headers, body)] = receiver.requests
    assert _valid(hook["secret"], headers, body)
    event = json.loads(body)
    assert event["type"] == "lead.stage_changed" and headers["x-webhook-id"] == str(event["id"])
    assert event["data"]["lead_id"] == lead["id"] and event["data"]["to_stage"] == "contacted"
    assert "organisation_ids" not in event["data"]
    listed = (await client.get("/v1/webhooks", headers=uni.headers)).json()
    assert [h["id"] for h in listed] == [hook["id"]] and listed[0]["secret"] is None
    [delivery] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1 and delivery["last_status_code"] == 200


async def test_a_failed_delivery_is_retried_with_backoff(client, market, sync, ctx):
    async with Receiver(statuses=[500]) as receiver:
        uni, hook, _ = await _hooked_lead(market, receiver.url)
        await _deliver(sync, ctx)
        [failed] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
        assert failed["status"] == "pending" and failed["attempts"] == 1 and failed["last_error"] == "HTTP 500"
        await tick_webhook_deliveries(ctx, datetime.now(UTC))  # the backoff has not run out: nothing sent
        assert len(receiver.requests) == 1
        await tick_webhook_deliveries(ctx, datetime.now(UTC) + timedelta(minutes=1))
    assert len(receiver.requests) == 2
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same event, same id
    [delivered] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
    assert delivered["status"] == "delivered" and delivered["attempts"] == 2


async def test_a_delivery_survives_a_worker_dying_between_attempts(client, market, sync, ctx):
    async with Receiver(statuses=[503]) as receiver:
        uni, hook, _ = await _hooked_lead(market, receiver.url)
        await _deliver(sync, ctx)  # the first attempt fails
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert len(await claim_due(ctx, later)) == 1  # a worker takes the retry ... and is killed before sending
        await tick_webhook_deliveries(ctx, later)  # another worker: the lease still holds
        assert len(receiver.requests) == 1
        await tick_webhook_deliveries(ctx, later + timedelta(minutes=3))  # the lease ran out
    assert len(receiver.requests) == 2
    [delivery] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3


async def test_retries_stop_after_a_day_and_a_manual_redelivery_sends_again(client, market, sync, ctx):
    async with Receiver(statuses=[500, 500]) as receiver:
        uni, hook, _ = await _hooked_lead(market, receiver.url)
        await _deliver(sync, ctx)
        await tick_webhook_deliveries(ctx, datetime.now(UTC) + timedelta(hours=25))
        [failed] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
        assert failed["status"] == "failed" and failed["attempts"] == 2
        again = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver",
                                  headers=uni.headers)
        assert again.status_code == 200 and again.json()["status"] == "pending"
        await tick_webhook_deliveries(ctx, datetime.now(UTC))
    assert len(receiver.requests) == 3
    [delivered] = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=uni.headers)).json()
    assert delivered["status"] == "delivered"


async def test_endpoints_other_organisations_and_bad_urls(client, market, search):
    uni = await market.organisation("university")
    for url, code in (("http://crm.example.cn/hook", "webhook.bad_url"), ("ftp://127.0.0.1/x", "webhook.bad_url")):
        refused = await client.post("/v1/webhooks", headers=uni.headers, json={"url": url, "events": ["lead.assigned"]})
        assert refused.status_code == 422 and refused.json()["code"] == code
    unknown = await client.post("/v1/webhooks", headers=uni.headers,
                                json={"url": "https://crm.example.cn/h", "events": ["lead.eaten"]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "body.events.0"
    hook = (await client.post("/v1/webhooks", headers=uni.headers,
                              json={"url": "https://crm.example.cn/h", "events": ["lead.assigned"]})).json()
    other = await market.organisation("university")
    assert (await client.get("/v1/webhooks", headers=other.headers)).json() == []
    assert (await client.delete(f"/v1/webhooks/{hook['id']}", headers=other.headers)).status_code == 404
    assert (await client.delete(f"/v1/webhooks/{hook['id']}", headers=uni.headers)).status_code == 204
    assert (await client.get("/v1/webhooks", headers=uni.headers)).json()[0]["active"] is False


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "127.0.0.1", "192.168.1.1"])
async def test_production_never_calls_an_internal_address(address):
    from services.webhooks import resolve_public

    with pytest.raises(ValueError):
        await resolve_public(address)
