"""One router module per resource; ROUTERS is the order they appear in the OpenAPI document."""

from market.api import (
    audit,
    brokers,
    deals,
    health,
    imports,
    leads,
    listings,
    matching,
    ops,
    organisations,
    publications,
    search,
    stats,
    taxonomy,
    tokens,
    webhooks,
)
from market.api.metrics import router as metrics_router

ROUTERS = [
    health.router, tokens.router, organisations.router, audit.router, taxonomy.router,
    listings.achievements_router, listings.needs_router, imports.router, search.router, matching.router,
    leads.router, matching.leads_router, publications.router,
    ops.router,
    deals.router, deals.lead_deal_router, deals.obligations_router,
    deals.registration_router, stats.router,
    brokers.router, webhooks.router,
    metrics_router,
]
