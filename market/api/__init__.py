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
    organisations,
    publications,
    search,
    stats,
    taxonomy,
    tokens,
    webhooks,
)

ROUTERS = [
    health.router, tokens.router, organisations.router, audit.router, taxonomy.router,
    listings.achievements_router, listings.needs_router, imports.router, search.router, matching.router,
    leads.router, matching.leads_router, publications.router,
    brokers.router, webhooks.router,
    deals.router, deals.lead_deal_router, deals.obligations_router,
    deals.registration_router, stats.router,
]
