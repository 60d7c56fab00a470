"""Organisations, users, tokens, API keys and the audit log, through the API."""

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest


async def test_login_me_and_refresh_rotation(client, market):
    org = await market.organisation("university")
    me = await client.get("/v1/auth/me", headers=org.headers)
    assert me.status_code == 200
    assert me.json()["organisation"]["id"] == org.organisation_id
    assert me.json()["roles"] == ["org_admin"]

    tokens = (await client.post("/v1/auth/token", json={"email": me.json()["user"]["email"],
                                                         "password": "org-admin-password"})).json()
    rotated = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    reused = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401 and reused.json()["code"] == "auth.token_revoked"


async def test_wrong_password_is_401_problem(client, market):
    await market.operator()
    response = await client.post("/v1/auth/token", json={"email": "ops@test.example.cn", "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "auth.invalid_credentials"


async def test_tampered_and_expired_tokens_are_401(client, market, settings):
    org = await market.organisation()
    token = org.headers["Authorization"].split()[1]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401 and response.json()["code"] == "auth.token_invalid"

    expired = jwt.encode({"sub": org.user_id, "typ": "access", "exp": datetime.now(UTC) - timedelta(minutes=1)},
                         settings.secret_key, algorithm="HS256")
    response = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["code"] == "auth.token_expired"

    forged = jwt.encode({"sub": org.user_id, "typ": "access", "exp": datetime.now(UTC) + timedelta(minutes=5)},
                        "another-secret-of-sufficient-length-1234", algorithm="HS256")
    response = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_token_forged_with_the_public_placeholder_is_401(client, market):
    from market.settings import DEV_SECRET

    operator = await market.operator()
    forged = jwt.encode({"sub": operator.user_id, "typ": "access", "exp": datetime.now(UTC) + timedelta(minutes=5)},
                        DEV_SECRET, algorithm="HS256")
    response = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["code"] == "auth.token_invalid"


async def test_api_key_shown_once_works_until_revoked(client, market):
    org = await market.organisation("university")
    key = await market.api_key(org)
    me = await client.get("/v1/auth/me", headers=key.headers)
    assert me.status_code == 200 and me.json()["kind"] == "api_key"
    listed = (await client.get(f"/v1/organisations/{org.organisation_id}/api-keys", headers=org.headers)).json()
    assert listed[0]["last_used_at"] is not None
    assert "key" not in listed[0] and key.headers["X-API-Key"].split("_")[1] == listed[0]["prefix"]

    revoked = await client.delete(f"/v1/api-keys/{key.extra['key_id']}", headers=org.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await client.get("/v1/auth/me", headers=key.headers)
    assert after.status_code == 401 and after.json()["code"] == "auth.key_revoked"
    wrong = await client.get("/v1/auth/me", headers={"X-API-Key": key.headers["X-API-Key"][:-2] + "xx"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "auth.key_invalid"


async def test_credit_code_check_digit_is_validated(client, market):
    operator = await market.operator()
    body = {"kind": "enterprise", "name": "某某科技有限公司", "credit_code": "91510100MA6C4XKX8A"}
    response = await client.post("/v1/organisations", json=body, headers=operator.headers)
    assert response.status_code == 422
    assert response.json()["field"] == "body.credit_code"


async def test_one_organisation_per_credit_code_and_per_name_in_either_script(client, market):
    from tests.factories import credit_code

    operator = await market.operator()
    first = await market.organisation("university", name="西南交通大学 科技园")
    traditional = await client.post("/v1/organisations", headers=operator.headers, json={
        "kind": "university", "name": "西南交通大學科技園", "credit_code": credit_code("university")})
    assert traditional.status_code == 409 and traditional.json()["code"] == "organisation.duplicate_name"
    assert traditional.json()["field"] == "body.name" and first.organisation_id in traditional.json()["detail"]
    assert "西南交通大学 科技园" in traditional.json()["detail"]
    code = (await client.get(f"/v1/organisations/{first.organisation_id}")).json()["credit_code"]
    same_code = await client.post("/v1/organisations", headers=operator.headers, json={
        "kind": "university", "name": "另一个名字的大学", "credit_code": code})
    assert same_code.status_code == 409 and same_code.json()["code"] == "organisation.duplicate_credit_code"
    assert first.organisation_id in same_code.json()["detail"]
    other = await market.organisation("enterprise")
    renamed = await client.patch(f"/v1/organisations/{other.organisation_id}", headers=other.headers,
                                 json={"name": "西南交通大學　科技園"})
    assert renamed.status_code == 409 and renamed.json()["code"] == "organisation.duplicate_name"
    kept = await client.patch(f"/v1/organisations/{first.organisation_id}", headers=first.headers,
                              json={"name": "西南交通大學科技園"})  # its own name in the other script
    assert kept.status_code == 200


async def test_mass_assignment_is_rejected(client, market):
    org = await market.organisation()
    response = await client.patch(f"/v1/organisations/{org.organisation_id}", headers=org.headers,
                                  json={"name": "新名字", "kind": "operator"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.kind"
    unchanged = await client.get(f"/v1/organisations/{org.organisation_id}")
    assert unchanged.json()["kind"] == "university"


async def test_org_admin_cannot_grant_operator_role(client, market):
    org = await market.organisation("enterprise")
    response = await client.post(f"/v1/organisations/{org.organisation_id}/users", headers=org.headers, json={
        "email": "sneaky@example.cn", "display_name": "x", "password": "long-enough-pw", "roles": ["operator"]})
    assert response.status_code == 403 and response.json()["code"] == "user.role_forbidden"


async def test_other_org_sees_no_users_and_no_contact(client, market):
    a = await market.organisation()
    b = await market.organisation()
    response = await client.get(f"/v1/organisations/{a.organisation_id}/users", headers=b.headers)
    assert response.status_code == 404
    seen_by_b = (await client.get(f"/v1/organisations/{a.organisation_id}", headers=b.headers)).json()
    assert seen_by_b["contact"] is None
    seen_by_a = (await client.get(f"/v1/organisations/{a.organisation_id}", headers=a.headers)).json()
    assert seen_by_a["contact"]["phone"] == "028-00000000"


async def test_audit_log_shows_before_and_after_of_an_edit(client, market):
    org = await market.organisation()
    await client.patch(f"/v1/organisations/{org.organisation_id}", headers=org.headers | {"X-Request-ID": "edit-1"},
                       json={"region": "cd.hightech"})
    operator = await market.operator()
    response = await client.get("/v1/audit", headers=operator.headers,
                                params={"object_type": "organisation", "object_id": org.organisation_id})
    events = response.json()["items"]
    assert [e["action"] for e in events] == ["organisation.updated", "organisation.created"]
    assert events[0]["changes"] == {"region": {"before": "cd.wuhou", "after": "cd.hightech"}}
    assert events[0]["actor_id"] == org.user_id and events[0]["request_id"] == "edit-1"
    own = (await client.get("/v1/audit", headers=org.headers)).json()["items"]  # its admin: its own entries
    assert [e["action"] for e in own] == ["organisation.updated"]


async def test_rate_limit_answers_429_with_retry_after(client, market, app):
    org = await market.organisation()
    app.state.settings.rate_limit_per_minute = 3
    try:
        statuses = [(await client.get("/v1/auth/me", headers=org.headers)).status_code for _ in range(4)]
    finally:
        app.state.settings.rate_limit_per_minute = 100_000
    assert statuses[-1] == 429
    last = await client.get("/v1/auth/me", headers=org.headers)
    assert last.status_code == 200 or int(last.headers["retry-after"]) > 0


async def test_every_answer_carries_the_rate_limit_headers(client, market):
    org = await market.organisation()
    first = await client.get("/v1/auth/me", headers=org.headers)
    second = await client.get("/v1/organisations/00000000-0000-0000-0000-000000000000", headers=org.headers)
    assert second.status_code == 404
    for response in first, second:
        assert int(response.headers["x-ratelimit-limit"]) == 100_000
        assert 0 < int(response.headers["x-ratelimit-reset"]) <= 60
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1


async def test_replicas_share_the_limit_through_postgresql_without_a_write_per_request(ctx):
    from services.errors import RateLimited
    from services.ratelimit import RateLimiter

    now = 1_800_000_000.0  # one fixed minute, whatever the machine's speed
    one, two = RateLimiter(ctx.engine, clock=lambda: now), RateLimiter(ctx.engine, clock=lambda: now)
    for _ in range(3):
        one.hit("user:shared", 5)
    await one.reconcile()  # one batched write for the three requests
    await two.reconcile()  # nothing to send; learns nothing yet
    two.hit("user:shared", 5)
    await two.reconcile()  # sends its one, learns the total of four
    assert two.hit("user:shared", 5).remaining == 0
    with pytest.raises(RateLimited):
        two.hit("user:shared", 5)


async def test_hits_on_their_way_to_postgresql_still_count(ctx):
    """A request arriving while the replica's counts are being sent still sees them."""
    from services.ratelimit import RateLimiter

    now = 1_800_000_000.0
    limiter = RateLimiter(ctx.engine, clock=lambda: now)
    for _ in range(3):
        limiter.hit("user:in-flight", 10)
    sending = asyncio.create_task(limiter.reconcile())
    await asyncio.sleep(0)  # wait-ok: the reconcile runs up to its first round trip to PostgreSQL
    assert not sending.done()
    assert limiter.hit("user:in-flight", 10).remaining == 6
    await sending
    assert limiter.hit("user:in-flight", 10).remaining == 5


async def test_oversized_body_is_413(client, app):
    big = b"x" * (app.state.settings.max_body_bytes + 1)
    response = await client.post("/v1/auth/token", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "request.too_large"


async def test_malformed_json_is_422_listing_the_field(client):
    response = await client.post("/v1/auth/token", content=b'{"email": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == "validation_failed" and body["errors"][0]["field"].startswith("body")


async def test_deactivated_user_is_locked_out_at_once(client, market):
    org = await market.organisation("enterprise")
    member = await market.user(org, ["org_member"])
    me = (await client.get("/v1/auth/me", headers=member.headers)).json()
    tokens = (await client.post("/v1/auth/token", json={"email": me["user"]["email"],
                                                         "password": "user-password-1"})).json()
    response = await client.patch(f"/v1/users/{member.user_id}", headers=org.headers, json={"active": False})
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await client.get("/v1/auth/me", headers=member.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_an_operator_cannot_take_over_the_admin(client, market, ctx):
    operator_org = (await market.operator()).organisation_id
    admin = await market.operator()
    staff = await client.post(f"/v1/organisations/{operator_org}/users", headers=admin.headers, json={
        "email": "staff@market.example.cn", "display_name": "运营", "password": "staff-password-1",
        "roles": ["operator"]})
    assert staff.status_code == 201
    staff_headers = await market.login("staff@market.example.cn", "staff-password-1")
    response = await client.patch(f"/v1/users/{admin.user_id}", headers=staff_headers,
                                  json={"password": "taken-over-password"})
    assert response.status_code == 403 and response.json()["code"] == "user.admin_protected"


async def test_login_attempts_are_limited_per_address(client, app):
    app.state.settings.login_attempts_per_minute = 1  # ten a minute per address, whichever accounts
    try:  # 21 attempts: one minute's window holds eleven of them even when a new minute starts meanwhile
        statuses = [(await client.post("/v1/auth/token", json={"email": f"u{n}@example.cn", "password": "x"}))
                    .status_code for n in range(21)]
    finally:
        app.state.settings.login_attempts_per_minute = 10
    assert statuses[:10] == [401] * 10 and 429 in statuses[10:]
