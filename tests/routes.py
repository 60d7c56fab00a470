"""The app's API routes, flattened (FastAPI keeps included routers nested)."""

from fastapi.routing import APIRoute, iter_route_contexts


def api_routes(app) -> list[APIRoute]:
    return [c.original_route for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
