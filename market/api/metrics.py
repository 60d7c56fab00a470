"""`GET /metrics`: the Prometheus text format, for the scraper (not public: METRICS_ALLOW / METRICS_TOKEN)."""

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from market.api.deps import AppSettings
from market.metrics import may_read_metrics
from services import metrics
from services.errors import Forbidden

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
    403: {}})
async def metrics_read(request: Request, settings: AppSettings) -> PlainTextResponse:
    """Request latency per route, Meilisearch latency, outbox depth and age, index lag, lead recomputation
    and webhook failures. Readable from the addresses in METRICS_ALLOW (loopback by default) or with
    `Authorization: Bearer <METRICS_TOKEN>`; others get 403."""
    if not may_read_metrics(request, settings):
        raise Forbidden("metrics are not readable from this address", code="metrics.forbidden")
    await metrics.collect_outbox(request.app.state.engine)
    return PlainTextResponse(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
