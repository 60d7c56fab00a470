"""One router module per resource; ROUTERS is the order they appear in the OpenAPI document."""

from market.api import health

ROUTERS = [health.router]
