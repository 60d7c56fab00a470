"""One router module per resource; ROUTERS is the order they appear in the OpenAPI document."""

from market.api import audit, health, listings, organisations, tokens

ROUTERS = [
    health.router, tokens.router, organisations.router, audit.router,
    listings.achievements_router, listings.needs_router,
]
