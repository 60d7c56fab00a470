"""CORS for the configured frontend origins (CORS_ORIGINS; none by default, so browsers on other
origins are refused as before). Preflight requests are answered here, before auth and rate limiting."""

from market.settings import Settings

# Headers a browser frontend sends, and those it may read from our answers.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "Accept-Language", "X-API-Key", "X-Request-ID",
                   "If-Match", "If-None-Match", "Idempotency-Key"]
EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotency-Replayed",
                   "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Content-Disposition"]


def cors_options(settings: Settings) -> dict:
    """Keyword arguments of Starlette's CORSMiddleware for these settings."""
    return {
        "allow_origins": settings.cors_origin_list,
        "allow_methods": ["GET", "POST", "PATCH", "PUT", "DELETE"],
        "allow_headers": ALLOWED_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "allow_credentials": False,  # bearer tokens and API keys travel in headers, never cookies
        "max_age": 600,
    }
