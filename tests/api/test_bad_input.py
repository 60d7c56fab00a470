"""Bad input gets a 4xx problem naming the field, never a 500: control characters, out-of-range
datetimes, forged ids, malformed cursors, oversized chunked bodies."""

import base64
import json

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
