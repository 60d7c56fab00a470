"""create_app(settings) -> FastAPI: routers, middleware, error handlers and the lifespan."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from market import errors
from market.api import ROUTERS
from market.middleware import BodySizeLimit, RequestContext
from market.settings import Settings
from services.context import ServiceContext
from services.search.client import SearchUnavailable

log = logging.getLogger(__name__)

DESCRIPTION = """
科创通 Market: the two lists of a technology-transfer marketplace — research achievements (科技成果)
posted by universities and institutes, technical needs (技术需求) posted by firms — matched through
Meilisearch into leads that technology brokers (技术经纪人) work into signed technology contracts.

Errors are always `application/problem+json` with a stable `code`. Money is a decimal string in CNY.
Lists use cursor pagination: pass `next_cursor` back as `cursor`.
"""

TAGS = [
    {"name": "health", "description": "Liveness and readiness for orchestrators."},
    {"name": "auth", "description": "Log in, refresh and inspect the caller."},
    {"name": "organisations", "description": "Universities, institutes, enterprises, agencies and the platform."},
    {"name": "users", "description": "People of an organisation and their roles."},
    {"name": "api-keys", "description": "Machine credentials of an organisation (a university's own system)."},
    {"name": "audit", "description": "The append-only log of every write (operators)."},
    {"name": "taxonomy", "description": "Fields and regions, read-only."},
    {"name": "achievements", "description": "Research achievements (科技成果) and their review lifecycle."},
    {"name": "needs", "description": "Technical needs (技术需求) and their review lifecycle."},
    {"name": "imports", "description": "Bulk upsert of listings from an organisation's own system."},
    {"name": "publications", "description": "Numbered, frozen versions of the two lists (两张清单)."},
    {"name": "search", "description": "Full-text search over published listings, both scripts."},
    {"name": "matching", "description": "Ranked matches between needs and achievements, with reasons."},
    {"name": "leads", "description": "Persisted matches (匹配线索) that brokers work."},
    {"name": "brokers", "description": "Technology brokers (技术经纪人): profiles, figures and ratings."},
    {"name": "webhooks", "description": "Endpoints that receive signed events of your organisation."},
    {"name": "deals", "description": "Technology contracts (技术合同), their payment schedule and registration."},
    {"name": "statistics", "description": "Technology-contract turnover (成交额 / 技术交易额) and its growth."},
]


async def _ensure_indexes(ctx: ServiceContext) -> None:
    """Best effort: the API starts (and serves listings) even while Meilisearch is down."""
    try:
        await ctx.search.ensure()
    except SearchUnavailable:
        log.warning("Meilisearch unavailable at start; search answers 503 until it returns")


def operation_id(route: APIRoute) -> str:
    """operationIds are the route function's name, `resource_action`, so generated clients don't churn."""
    return route.name


def create_app(settings: Settings) -> FastAPI:
    if not settings.database_url or not settings.meili_url:
        raise RuntimeError("create_app needs DATABASE_URL and MEILI_URL (the CLI fills them when embedded)")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with ServiceContext.open(settings) as ctx:
            app.state.ctx = ctx
            app.state.engine = ctx.engine
            app.state.sessions = ctx.sessions
            app.state.search = ctx.search
            await _ensure_indexes(ctx)
            yield

    app = FastAPI(
        title="科创通 Market API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        responses=errors.PROBLEM_RESPONSES,
    )
    app.state.settings = settings
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)
    return app
