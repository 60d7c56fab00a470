"""create_app(settings) -> FastAPI: routers, middleware, error handlers and the lifespan."""

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware

from market import docs, errors, logs, openapi
from market.api import ROUTERS
from market.api.deps import reject_unknown_parameters
from market.bulkhead import Bulkheads, bulkheads
from market.cors import cors_options
from market.etags import ETags
from market.idempotency import IdempotencyKeys
from market.input_guard import RejectControlCharacters
from market.metrics import RequestMetrics
from market.middleware import BodySizeLimit, RequestContext, UnexpectedErrors
from market.ratelimit_headers import RateLimitHeaders
from market.settings import Settings
from services.context import ServiceContext
from services.matching import terms
from services.ratelimit import RateLimiter
from services.search.cache import SearchCache
from services.search.client import SearchUnavailable
from services.text import default_thesaurus, extract_terms

log = logging.getLogger(__name__)
YOUNG_OBJECTS = 10_000  # the cyclic collector's first threshold (the default 700: see _load_text)

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
    {"name": "audit", "description": "The append-only log of writes and reveals (operators; org admins their own)."},
    {"name": "taxonomy", "description": "Fields and regions, read-only."},
    {"name": "achievements", "description": "Research achievements (科技成果) and their review lifecycle."},
    {"name": "needs", "description": "Technical needs (技术需求) and their review lifecycle."},
    {"name": "imports", "description": "Bulk upsert of listings from an organisation's own system."},
    {"name": "publications", "description": "Numbered, frozen versions of the two lists (两张清单)."},
    {"name": "search", "description": "Full-text search over published listings, both scripts."},
    {"name": "matching", "description": "Ranked matches between needs and achievements, with reasons."},
    {"name": "leads", "description": "Persisted matches (匹配线索) that brokers work."},
    {"name": "ops", "description": "How far the workers lag behind the writes (operators)."},
    {"name": "deals", "description": "Technology contracts (技术合同), their payment schedule and registration."},
    {"name": "statistics", "description": "Technology-contract turnover (成交额 / 技术交易额) and its growth."},
    {"name": "brokers", "description": "Technology brokers (技术经纪人): profiles, figures and ratings."},
    {"name": "webhooks", "description": "Endpoints that receive signed events of your organisation."},
    {"name": "metrics", "description": "Prometheus metrics for operators' monitoring (not public)."},
]


async def _ensure_indexes(ctx: ServiceContext) -> None:
    """Best effort: the API starts (and serves listings) even while Meilisearch is down."""
    try:
        await ctx.search.ensure()
    except SearchUnavailable:
        log.warning("Meilisearch unavailable at start; search answers 503 until it returns")


def load_text() -> None:
    """The script converter, the thesaurus and the segmenter with its dictionary, and what stored terms are
    checked against: seconds of loading that the first live match or search would otherwise pay."""
    default_thesaurus()
    extract_terms("氫能儲運裝備的關鍵材料")
    terms.rules()


async def _load_text(app: FastAPI) -> None:
    """At start, off the event loop; `/ready` answers 503 until it is done."""
    try:
        await asyncio.to_thread(load_text)
    except Exception:
        log.exception("loading the segmenter and thesaurus failed; /ready stays unavailable")
        return
    # The dictionary, thesaurus and taxonomy are ~170,000 objects that live as long as the process: out of
    # the cyclic collector's reach, a full collection no longer walks them (~120 ms each, a pause of every
    # request in flight, seen as a 229 ms /health under load). Collected first, so no garbage is frozen.
    gc.collect()
    gc.freeze()
    # A young collection every 700 new objects ran twice a live match (its Meilisearch answer alone is ~1,000
    # dicts and lists), ~0.7 ms a match; most of a request's objects are freed when it ends, so a higher
    # threshold is rarely reached (bench/README.md, "Live match").
    gc.set_threshold(YOUNG_OBJECTS)
    app.state.text_loaded = True


def operation_id(route: APIRoute) -> str:
    """operationIds are the route function's name, `resource_action`, so generated clients don't churn."""
    return route.name


def from_environment() -> FastAPI:
    """The app of one of several `market serve` processes (WEB_CONCURRENCY > 1): settings from the
    environment the CLI prepared (embedded services' URLs, the generated secret)."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)  # a spawned process starts unconfigured
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    if not settings.database_url or not settings.meili_url:
        raise RuntimeError("create_app needs DATABASE_URL and MEILI_URL (the CLI fills them when embedded)")
    if not settings.secret_key:
        raise RuntimeError("create_app needs SECRET_KEY (the CLI generates one into DATA_DIR)")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with ServiceContext.open(settings) as ctx, RateLimiter(ctx.engine).running() as limiter:
            app.state.ratelimiter = limiter
            app.state.ctx = ctx
            app.state.engine = ctx.engine
            app.state.sessions = ctx.sessions
            app.state.search = ctx.search
            app.state.text_loaded = False
            app.state.text_loading = asyncio.create_task(_load_text(app))
            await _ensure_indexes(ctx)
            yield
            app.state.text_loading.cancel()

    app = FastAPI(
        title="科创通 Market API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # market/docs.py serves /docs and /redoc without a CDN
        redoc_url=None,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(reject_unknown_parameters)],
    )
    app.state.settings = settings
    app.state.bulkheads = bulkheads(settings.match_concurrency, settings.match_share)
    app.state.search_cache = SearchCache(settings.search_cache_seconds, settings.search_cache_entries)
    errors.install(app)
    docs.install(app)
    openapi.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(RejectControlCharacters)  # innermost: the body it reads is capped
    app.add_middleware(Bulkheads)  # a live match waiting for its turn holds nothing (no connection)
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ETags)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestContext)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(CORSMiddleware, **cors_options(settings))  # outermost: errors carry CORS headers too
    return app
