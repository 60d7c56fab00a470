"""The Prometheus series of the service, in one registry: the API, the workers and the search client
update them here; `GET /metrics` renders them. Worker code imports this module (services → services).

Label values are bounded: route templates, status classes, outbox kinds, Meilisearch operation templates.
"""

import functools
import re
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.search import client as search_client

REGISTRY = CollectorRegistry(auto_describe=True)
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

HTTP_REQUEST_SECONDS = Histogram(
    "market_http_request_duration_seconds", "API request latency by route template and status class",
    ["method", "route", "status"], buckets=FAST, registry=REGISTRY)
MEILI_REQUEST_SECONDS = Histogram(
    "market_meilisearch_request_duration_seconds", "Meilisearch call latency by operation",
    ["method", "operation", "outcome"], buckets=FAST, registry=REGISTRY)
OUTBOX_DEPTH = Gauge(
    "market_outbox_pending_events", "Outbox events not yet processed, by kind (aggregate type)", ["kind"],
    registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "market_outbox_oldest_pending_age_seconds", "Age of the oldest unprocessed outbox event, by kind", ["kind"],
    registry=REGISTRY)
INDEX_LAG_SECONDS = Histogram(
    "market_index_lag_seconds", "Publish → searchable: outbox event created → its Meilisearch task succeeded "
    "(observed by the worker)", ["kind"], buckets=SLOW, registry=REGISTRY)
INDEX_LAG_LAST = Gauge(
    "market_index_lag_last_seconds", "The last index lag the worker observed, by kind", ["kind"], registry=REGISTRY)
LEAD_RECOMPUTATION_SECONDS = Histogram(
    "market_lead_recomputation_duration_seconds", "Recomputing the leads of the listings of one outbox batch",
    buckets=SLOW, registry=REGISTRY)
VECTORS_ENCODED = Counter(
    "market_vectors_encoded", "Listing texts run through the sentence encoder (a reindex should add none)",
    registry=REGISTRY)
WEBHOOK_DELIVERY_FAILURES = Counter(
    "market_webhook_delivery_failures_total", "Webhook deliveries that failed (each attempt)", ["reason"],
    registry=REGISTRY)
BULKHEAD_WAITING = Gauge(
    "market_bulkhead_waiting_requests", "Expensive requests (live matches) waiting for their turn in this process",
    ["bulkhead"], registry=REGISTRY)
BULKHEAD_RESTING = Gauge(
    "market_bulkhead_resting_slots", "Slots resting between two expensive requests while others wait (MATCH_SHARE)",
    ["bulkhead"], registry=REGISTRY)
SEARCH_CACHE_HITS = Counter(
    "market_search_cache_hits_total", "Searches answered from this process's microcache (or a search in flight)",
    ["kind"], registry=REGISTRY)
SEARCH_CACHE_MISSES = Counter(
    "market_search_cache_misses_total", "Searches sent to Meilisearch (not in the microcache)", ["kind"],
    registry=REGISTRY)

_IDS = [(re.compile(r"^/indexes/[^/]+"), "/indexes/{uid}"), (re.compile(r"/documents/[^/]+$"), "/documents/{id}"),
        (re.compile(r"^/tasks/\d+"), "/tasks/{uid}")]


def meili_operation(path: str) -> str:
    """`/indexes/market_needs/search` → `/indexes/{uid}/search`: one series per kind of call."""
    for pattern, template in _IDS:
        path = pattern.sub(template, path)
    return path


def observe_meili(method: str, path: str, seconds: float, outcome: str) -> None:
    MEILI_REQUEST_SECONDS.labels(method, meili_operation(path), outcome).observe(seconds)


def observe_index_lag(kind: str, seconds: float) -> None:
    """For the worker: an event of `kind` became searchable `seconds` after it was written."""
    INDEX_LAG_SECONDS.labels(kind).observe(seconds)
    INDEX_LAG_LAST.labels(kind).set(seconds)


def timed(histogram: Histogram):
    """Decorates an async function: each call's duration is observed by `histogram`."""

    def decorate(function):
        @functools.wraps(function)
        async def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return wrapper

    return decorate


_OUTBOX = text("SELECT aggregate_type, count(*), extract(epoch FROM now() - min(created_at)) "
               "FROM outboxevent WHERE processed_at IS NULL GROUP BY aggregate_type")


async def collect_outbox(engine: AsyncEngine) -> None:
    """Outbox depth and oldest age per kind, read at scrape time (kinds now empty drop to 0)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_OUTBOX)).all()
    for gauge in (OUTBOX_DEPTH, OUTBOX_OLDEST_AGE):
        for labels in list(gauge._metrics):  # keep the kinds seen before, at 0, so graphs do not gap
            gauge.labels(*labels).set(0)
    for kind, depth, age in rows:
        OUTBOX_DEPTH.labels(kind).set(depth)
        OUTBOX_OLDEST_AGE.labels(kind).set(float(age or 0))


search_client.REQUEST_HOOKS.append(observe_meili)
