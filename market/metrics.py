"""Request metrics (latency per route template and status class) and who may read `/metrics`."""

import hmac
import ipaddress
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.settings import Settings
from services.metrics import HTTP_REQUEST_SECONDS


class RequestMetrics:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template, never the ids
            HTTP_REQUEST_SECONDS.labels(scope["method"], route, f"{status // 100}xx").observe(
                time.perf_counter() - started)


def may_read_metrics(request: Request, settings: Settings) -> bool:
    """METRICS_ALLOW: `loopback` (default), `any`, or addresses/networks, comma-separated; or the caller
    sends `Authorization: Bearer <METRICS_TOKEN>`."""
    token = request.headers.get("authorization", "")
    if settings.metrics_token and hmac.compare_digest(token, f"Bearer {settings.metrics_token}"):
        return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    for rule in (r.strip() for r in settings.metrics_allow.split(",") if r.strip()):
        if rule == "any" or (rule == "loopback" and address.is_loopback):
            return True
        if rule not in ("any", "loopback") and address in ipaddress.ip_network(rule, strict=False):
            return True
    return False
