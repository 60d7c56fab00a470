"""X-RateLimit-Limit / -Remaining / -Reset on every answer of a rate-limited route (429s and errors too)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimitHeaders:
    """Reads the quota the principal dependency counted (`request.state.ratelimit`); Reset is in seconds."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_quota(message: Message) -> None:
            quota = scope.get("state", {}).get("ratelimit")
            if message["type"] == "http.response.start" and quota is not None:
                message["headers"] = [*message.get("headers", []),
                                      (b"x-ratelimit-limit", str(quota.limit).encode()),
                                      (b"x-ratelimit-remaining", str(quota.remaining).encode()),
                                      (b"x-ratelimit-reset", str(quota.reset).encode())]
            await send(message)

        await self.app(scope, receive, send_with_quota)
