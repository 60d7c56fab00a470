"""Liveness and readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from market.api.deps import Search
from schemas.ops import BacklogEntry
from services import backlog
from services.search.sync import OUTBOX_KINDS

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ok"], description="`ok`; `degraded` when the workers lag more than "
                        "OUTBOX_LAG_DEGRADED_SECONDS (still serving); `unavailable` naming what is down (503)")
    postgres: str = Field(examples=["ok"])
    meilisearch: str = Field(examples=["ok"])
    outbox_pending: int | None = Field(None, description="Outbox events the workers have not processed yet")
    index_lag_seconds: float | None = Field(
        None, description="How long the oldest listing change has waited to reach search and the leads")
    outbox: list[BacklogEntry] = Field(default_factory=list, description="The backlog per aggregate type")
    text: str = Field(examples=["ok"], description="The segmenter and thesaurus: `loading` for seconds after start")


@router.get("/health", response_model=Health)
async def health_live() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def health_ready(request: Request, search: Search):
    """PostgreSQL and Meilisearch are reachable and the segmenter and thesaurus are loaded (503 names
    what is not), and how far the workers lag: the outbox backlog per aggregate type, and the index lag
    in seconds."""
    settings = request.app.state.settings
    text_ = "ok" if getattr(request.app.state, "text_loaded", False) else "loading"
    body = Readiness(status="ok", postgres="ok", meilisearch="ok", text=text_)
    try:
        async with request.app.state.sessions() as session:
            lag = await backlog.backlog(session, by_topic=False)
        body.outbox, body.outbox_pending = lag.entries, lag.pending
        body.index_lag_seconds = max(
            (e.oldest_age_seconds for e in lag.entries if e.aggregate_type in OUTBOX_KINDS), default=0.0)
    except Exception as exc:  # any failure means "not ready"; the reason is in the body
        body.postgres = f"unavailable: {type(exc).__name__}"
    try:
        await search.client.health()
    except Exception as exc:
        body.meilisearch = f"unavailable: {type(exc).__name__}"
    if "ok" != body.postgres or "ok" != body.meilisearch or "ok" != body.text:
        body.status = "unavailable"
    elif body.index_lag_seconds is not None and body.index_lag_seconds > settings.outbox_lag_degraded_seconds:
        body.status = "degraded"
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if body.status == "unavailable" else 200)
