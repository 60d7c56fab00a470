"""A browser frontend on a configured origin may call the API; other origins get no CORS grant."""

import httpx

from market.app import create_app

FRONTEND = "https://www.kechuangtong.example.cn"
PREFLIGHT = {"Origin": FRONTEND, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"}


def _client(settings, origins: str) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"cors_origins": origins}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_preflight_is_answered_for_a_configured_origin(settings):
    async with _client(settings, f"{FRONTEND}/, https://admin.kechuangtong.example.cn") as client:
        response = await client.options("/v1/needs", headers=PREFLIGHT)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == FRONTEND
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "idempotency-key" in response.headers["access-control-allow-headers"].lower()

        answer = await client.get("/health", headers={"Origin": FRONTEND})
        assert answer.headers["access-control-allow-origin"] == FRONTEND
        assert "etag" in answer.headers["access-control-expose-headers"].lower()


async def test_no_origin_is_allowed_by_default(settings):
    async with _client(settings, "") as client:
        response = await client.options("/v1/needs", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers
        answer = await client.get("/health", headers={"Origin": FRONTEND})
        assert "access-control-allow-origin" not in answer.headers


async def test_other_origins_get_no_grant(settings):
    async with _client(settings, FRONTEND) as client:
        response = await client.options("/v1/needs", headers={**PREFLIGHT, "Origin": "https://evil.example.com"})
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
