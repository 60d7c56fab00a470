"""`/metrics`: the Prometheus series move with traffic, and only allowed callers read them."""

import re

import httpx

from market.app import create_app
from tests.factories import create_listing


def _value(text: str, name: str, **labels) -> float:
    """The sum of a series' samples whose labels include `labels` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_series_move_after_traffic(client, market, search, sync):
    before = (await client.get("/metrics")).text
    uni = await market.organisation("university")
    item = await create_listing(market, "achievements", uni)
    await client.get(f"/v1/achievements/{item['id']}")
    await client.get("/v1/search/achievements", params={"q": "采摘"})
    pending = (await client.get("/metrics")).text
    await sync()
    after = await client.get("/metrics")

    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = {"route": "/v1/achievements/{listing_id}", "status": "2xx"}
    search = {"operation": "/indexes/{uid}/search"}
    # Counts of observations (the histograms' `_count` series) moved; no timing is asserted.
    requests = "market_http_request_duration_seconds_count"
    assert _value(text, requests, **route) > _value(before, requests, **route)
    meili_calls = "market_meilisearch_request_duration_seconds_count"
    assert _value(text, meili_calls, **search) > _value(before, meili_calls, **search)
    assert _value(pending, "market_outbox_pending_events", kind="achievement") >= 1
    assert _value(pending, "market_outbox_oldest_pending_age_seconds", kind="achievement") >= 0
    assert _value(text, "market_outbox_pending_events", kind="achievement") == 0
    recomputations = "market_lead_recomputation_duration_seconds_count"
    assert _value(text, recomputations) > _value(before, recomputations)
    for declared in ("market_index_lag_seconds", "market_webhook_delivery_failures_total"):
        assert f"# TYPE {declared.removesuffix('_total')}" in text


async def test_metrics_are_not_public_outside_the_allowed_networks(settings):
    app = create_app(settings.model_copy(update={"metrics_allow": "10.0.0.0/8", "metrics_token": "s3cret-scrape"}))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 403 and refused.json()["code"] == "metrics.forbidden"
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
