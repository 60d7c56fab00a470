"""One router module per resource; ROUTERS is the order they appear in the OpenAPI document."""

from market.api import audit, health, imports, listings, matching, organisations, publications, search, taxonomy, tokens
from market.api.metrics import router as metrics_router

ROUTERS = [
    health.router, tokens.router, organisations.router, audit.router, taxonomy.router,
    listings.achievements_router, listings.needs_router, imports.router, search.router, matching.router,
    matching.leads_router, publications.router,
    metrics_router,
]
