"""Bad input gets a 4xx problem naming the field, never a 500: control characters, out-of-range
datetimes, forged ids, malformed cursors, oversized chunked bodies."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import achievement_body, need_body


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# (caller, method, path, query, body, field)
CONTROL_CHARACTER_CASES = [
    ("anonymous", "POST", "/v1/auth/token", None, {"email": "a@example.cn", "password": "pw\x00"}, "body.password"),
    ("anonymous", "POST", "/v1/auth/token", None, {"email": "a\x00@example.cn", "password": "pw"}, "body.email"),
    ("anonymous", "POST", "/v1/auth/refresh", None, {"refresh_token": "\x00"}, "body.refresh_token"),
    ("anonymous", "GET", "/v1/search/achievements", {"q": "茶\x00"}, None, "query.q"),
    ("anonymous", "GET", "/v1/needs", {"cursor": "\x00"}, None, "query.cursor"),
    ("anonymous", "GET", "/v1/organisations", {"cursor": _cursor(["a\u0000", "0" * 32])}, None, "query.cursor"),
    ("anonymous", "GET", "/v1/achievements/%00", None, None, "path"),
    ("university", "POST", "/v1/achievements", None, achievement_body(title="标题\x00"), "body.title"),
    ("university", "POST", "/v1/achievements", None, achievement_body(keywords=["a", "b\x1b"]), "body.keywords.1"),
    ("enterprise", "POST", "/v1/needs", None, need_body(description="描述\x07" + "x" * 30), "body.description"),
    ("enterprise", "POST", "/v1/needs", None, need_body(contact={"name": "王\x00"}), "body.contact.name"),
    ("enterprise", "POST", "/v1/needs", None, need_body(title="lone \ud800 surrogate"), "body.title"),
]


@pytest.mark.parametrize(("caller", "method", "path", "query", "body", "field"), CONTROL_CHARACTER_CASES)
async def test_control_characters_are_422_naming_the_field(client, market, caller, method, path, query, body, field):
    headers = {} if caller == "anonymous" else (await market.organisation(caller)).headers
    content = json.dumps(body).encode() if body is not None else None  # \u0000 escapes, as clients send them
    response = await client.request(method, path, params=query, content=content,
                                    headers=headers | ({"content-type": "application/json"} if content else {}))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


async def test_tab_and_newline_are_text(client, market):
    uni = await market.organisation("university")
    body = achievement_body(title="多行\t标题", description="第一行\r\n第二行\n" + "x" * 30)
    response = await client.post("/v1/achievements", json=body, headers=uni.headers)
    assert response.status_code == 201 and response.json()["title"] == "多行\t标题"


@pytest.mark.parametrize(("path", "name"), [("/v1/needs", "updated_since"), ("/v1/achievements", "updated_since"),
                                            ("/v1/audit", "since"), ("/v1/audit", "until")])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_datetime_outside_what_can_be_stored_is_422(client, market, path, name, moment):
    operator = await market.operator()
    response = await client.get(path, params={name: moment}, headers=operator.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == f"query.{name}"


UUID = "00000000-0000-4000-8000-000000000000"
SHAPELESS = ["!!!notacursor", _cursor([1, 2, 3]), _cursor({"a": 1}), _cursor([{"a": 1}, [UUID]])]
TIMESTAMPED = [_cursor(["0001-01-01T00:00:00+14:00", UUID]), _cursor(["2026-01-01T00:00:00", UUID]),
               _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]), _cursor([1, 2])]
BAD_CURSORS = {
    "/v1/needs": SHAPELESS + TIMESTAMPED,
    "/v1/achievements": SHAPELESS + TIMESTAMPED,
    "/v1/organisations": [*SHAPELESS, _cursor(["名称", "not-a-uuid"])],
    "/v1/leads": [*SHAPELESS, base64.urlsafe_b64encode(f'[Infinity, "{UUID}"]'.encode()).decode(),
                  _cursor(["high", UUID])],
    "/v1/audit": [*SHAPELESS, _cursor([2**70]), _cursor(["1" * 30])],
}


@pytest.mark.parametrize("path", BAD_CURSORS)
async def test_malformed_cursor_is_422(client, market, path):
    operator = await market.operator()
    for cursor in BAD_CURSORS[path]:
        response = await client.get(path, params={"cursor": cursor}, headers=operator.headers)
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["code"] == "pagination.invalid_cursor" and response.json()["field"] == "query.cursor"


async def test_tokens_signed_right_but_naming_no_uuid_are_401(client, market, settings):
    import jwt

    later = datetime.now(UTC) + timedelta(minutes=5)
    operator = await market.operator()
    for claims, path in [
        ({"sub": "admin", "typ": "access"}, "/v1/auth/me"),
        ({"sub": operator.user_id + "x", "typ": "access"}, "/v1/auth/me"),
        ({"sub": operator.user_id, "jti": "1", "typ": "refresh"}, "/v1/auth/refresh"),
        ({"sub": operator.user_id, "typ": "refresh"}, "/v1/auth/refresh"),
        ({"sub": operator.user_id, "jti": "../x", "typ": "refresh"}, "/v1/auth/logout"),
    ]:
        token = jwt.encode({**claims, "exp": later}, settings.secret_key, algorithm="HS256")
        if path == "/v1/auth/me":
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        else:
            response = await client.post(path, json={"refresh_token": token})
        assert response.status_code == 401, (claims, response.text)
        assert response.json()["code"] == "auth.token_invalid"


async def test_api_key_for_an_organisation_that_does_not_exist_is_404(client, market):
    operator = await market.operator()
    response = await client.post(f"/v1/organisations/{UUID}/api-keys", headers=operator.headers,
                                 json={"name": "sync", "scopes": ["read"]})
    assert response.status_code == 404 and response.json()["code"] == "organisation.not_found"


@pytest.mark.parametrize("upload", [False, True], ids=["json", "multipart"])
async def test_chunked_body_over_the_limit_is_413(client, market, app, upload):
    """No Content-Length: the limit is found while reading, where the framework used to turn it into 400."""
    uni = await market.organisation("university")
    limit = app.state.settings.max_body_bytes

    async def chunks():
        if upload:
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="rows.jsonl"\r\n\r\n'
        for _ in range(limit // 2**20 + 2):
            yield b"x" * 2**20

    content_type = "multipart/form-data; boundary=b" if upload else "application/json"
    response = await client.post("/v1/imports/achievements" if upload else "/v1/achievements", content=chunks(),
                                 headers=uni.headers | {"content-type": content_type})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "request.too_large"
