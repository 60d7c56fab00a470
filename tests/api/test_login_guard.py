"""Someone guessing an account's password slows themself down, never its owner."""

from datetime import UTC, datetime

import httpx
import pytest

from services import login_guard

# A failure is counted in its own transaction, to outlive the request's rollback: that needs real commits.
pytestmark = pytest.mark.commits


def _from(app, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test")


async def test_attacker_is_delayed_and_the_owner_is_not(app, market, ctx):
    await market.operator()
    account = {"email": "ops@test.example.cn", "password": "operator-password-1"}
    wrong = {**account, "password": "guess"}
    async with _from(app, "203.0.113.7") as attacker, _from(app, "198.51.100.2") as owner:
        statuses = [(await attacker.post("/v1/auth/token", json=wrong)).status_code for _ in range(5)]
        assert statuses == [401] * 5  # the fifth failure starts the delay

        # The attacker keeps failing (their clock, injected): each failure doubles their wait, up to 15 min.
        now = datetime.now(UTC)
        delays = [await login_guard.record_failure(ctx.engine, "OPS@test.example.cn", "203.0.113.7", now)
                  for _ in range(12)]
        seconds = [d.total_seconds() for d in delays]
        assert seconds[:6] == [2, 4, 8, 16, 32, 64] and seconds[-1] == 900
        assert all(a <= b for a, b in zip(seconds, seconds[1:], strict=False))

        # Even with the right password, the attacker's address waits; the owner elsewhere signs in at once.
        delayed = await attacker.post("/v1/auth/token", json=account)
        assert delayed.status_code == 429 and delayed.json()["code"] == "auth.login_delayed"
        assert 800 < int(delayed.headers["retry-after"]) <= 900
        assert (await owner.post("/v1/auth/token", json=account)).status_code == 200

        # The owner's own typo is forgotten once they get it right.
        assert (await owner.post("/v1/auth/token", json=wrong)).status_code == 401
        assert (await owner.post("/v1/auth/token", json=account)).status_code == 200
        for _ in range(4):
            assert (await owner.post("/v1/auth/token", json=wrong)).status_code == 401
        assert (await owner.post("/v1/auth/token", json=account)).status_code == 200


async def test_forwarded_for_is_ignored_by_default(client, ctx):
    """A caller cannot pick the address their failures are counted against (no proxy is trusted)."""
    from sqlalchemy import text

    for spoofed in ("198.51.100.1", "198.51.100.2"):
        response = await client.post("/v1/auth/token", headers={"X-Forwarded-For": spoofed},
                                     json={"email": "nobody@example.cn", "password": "guess"})
        assert response.status_code == 401
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT address, failures FROM login_failure"))).all()
    assert [tuple(row) for row in rows] == [("127.0.0.1", 2)]
