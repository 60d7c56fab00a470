"""Liveness and readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from market.api.deps import Search

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(examples=["ok"], description="`ok`, or `unavailable` naming what is down")
    postgres: str = Field(examples=["ok"])
    meilisearch: str = Field(examples=["ok"])
    text: str = Field(examples=["ok"], description="The segmenter and thesaurus: `loading` for seconds after start")


@router.get("/health", response_model=Health)
async def health_live() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def health_ready(request: Request, search: Search):
    """PostgreSQL and Meilisearch are reachable and the segmenter and thesaurus are loaded; 503 names
    what is not."""
    postgres = meilisearch = "ok"
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is in the body
        postgres = f"unavailable: {type(exc).__name__}"
    try:
        await search.client.health()
    except Exception as exc:
        meilisearch = f"unavailable: {type(exc).__name__}"
    text_ = "ok" if getattr(request.app.state, "text_loaded", False) else "loading"
    body = Readiness(status="ok" if postgres == meilisearch == text_ == "ok" else "unavailable",
                     postgres=postgres, meilisearch=meilisearch, text=text_)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
