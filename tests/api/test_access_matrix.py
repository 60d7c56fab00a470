"""Who may call what: every write endpoint × {anonymous, same org, other org, broker, operator}.

The matrix is checked against the route table: a new write endpoint without a row here fails, and so
does a route that is neither public (market.auth.PUBLIC_OPERATIONS) nor guarded by a rule.
"""

import pytest

from market.auth import PUBLIC_OPERATIONS
from tests.factories import ANONYMOUS, achievement_body, create_listing, need_body
from tests.routes import api_routes

CALLERS = ("anonymous", "same_org", "other_org", "broker", "operator")
OWNER_ONLY = {"anonymous": 401, "same_org": 200, "other_org": 404, "broker": 403, "operator": 200}
OPERATOR_ONLY = {"anonymous": 401, "same_org": 403, "other_org": 403, "broker": 403, "operator": 200}
POSTERS = {"anonymous": 401, "same_org": 201, "other_org": 201, "broker": 403, "operator": 403}
ORG_ADMIN = {"anonymous": 401, "same_org": 201, "other_org": 404, "broker": 403, "operator": 201}
BROKERS = {"anonymous": 401, "same_org": 403, "other_org": 403, "broker": 201, "operator": 201}


def owner_kind(op: str) -> str:
    return "enterprise" if op.startswith("needs") else "university"


def listing_kind(op: str) -> str:
    return "needs" if op.startswith("needs") else "achievements"


async def _listing(m, op, state):
    kind = listing_kind(op)
    owner = m.owner
    client, operator = m.client, await m.operator()
    if state == "draft":
        return await create_listing(m, kind, owner, publish=False, external_id=None)
    item = await create_listing(m, kind, owner, publish=state != "submitted", external_id=None)
    if state == "submitted" and item["status"] == "draft":
        await client.post(f"/v1/{kind}/{item['id']}/submit", headers=owner.headers)
    if state == "archived":
        await client.post(f"/v1/{kind}/{item['id']}/archive", headers=operator.headers)
    return item


def _lifecycle(action: str, state: str, expected: dict):
    async def setup(m, op):
        item = await _listing(m, op, state)
        body = {"reason": "信息不完整"} if action == "reject" else None
        return "POST", f"/v1/{listing_kind(op)}/{item['id']}/{action}", body
    return setup, expected


async def _create(m, op):
    body = need_body() if op.startswith("needs") else achievement_body()
    return "POST", f"/v1/{listing_kind(op)}", body


async def _update(m, op):
    item = await _listing(m, op, "draft")
    return "PATCH", f"/v1/{listing_kind(op)}/{item['id']}", {"title": "修改后的标题"}


async def _delete(m, op):
    item = await _listing(m, op, "draft")
    return "DELETE", f"/v1/{listing_kind(op)}/{item['id']}", None


async def _import(m, op):
    line = '{"external_id": "IMP-1", "title": "基于视觉识别的采摘机器人", "field": "artificial_intelligence.vision"}'
    return "FILE", "/v1/imports/achievements", line


async def _org_update(m, op):
    return "PATCH", f"/v1/organisations/{m.owner.organisation_id}", {"region": "cd.hightech"}


async def _user_create(m, op):
    import uuid
    return "POST", f"/v1/organisations/{m.owner.organisation_id}/users", {
        "email": f"u{uuid.uuid4().hex[:8]}@example.cn", "display_name": "新用户", "password": "long-password-1"}


async def _user_update(m, op):
    member = await m.user(m.owner, ["org_member"])
    return "PATCH", f"/v1/users/{member.user_id}", {"display_name": "改名"}


async def _key_create(m, op):
    return "POST", f"/v1/organisations/{m.owner.organisation_id}/api-keys", {"name": "k", "scopes": ["read"]}


async def _key_revoke(m, op):
    key = await m.api_key(m.owner)
    return "DELETE", f"/v1/api-keys/{key.extra['key_id']}", None


async def _org_create(m, op):
    return "POST", "/v1/organisations", {"kind": "enterprise", "name": "新注册的企业"}


async def _lead_create(m, op):
    firm = await m.organisation("enterprise")
    need = await create_listing(m, "needs", firm, external_id=None)
    achievement = await create_listing(m, "achievements", m.owner, external_id=None)
    return "POST", "/v1/leads", {"need_id": need["id"], "achievement_id": achievement["id"]}


async def _lead_claim(m, op):
    _, path, body = await _lead_create(m, op)
    lead = await m.client.post(path, json=body, headers=(await m.operator()).headers)
    return "POST", f"/v1/leads/{lead.json()['id']}/claim", None


async def _publication(m, op):
    return "POST", "/v1/publications", {"list_kind": "achievements"}


async def _metrics(m, op):
    return "GET", "/metrics", None


CASES = {
    "metrics_read": (_metrics, {c: 200 for c in CALLERS}),  # from loopback (METRICS_ALLOW's default)
    "organisations_create": (_org_create, {**OPERATOR_ONLY, "operator": 201}),
    "organisations_update": (_org_update, OWNER_ONLY),
    "users_create": (_user_create, ORG_ADMIN),
    "users_update": (_user_update, {**ORG_ADMIN, "same_org": 200, "operator": 200}),
    "api_keys_create": (_key_create, ORG_ADMIN),
    "api_keys_revoke": (_key_revoke, {**ORG_ADMIN, "same_org": 200, "operator": 200}),
    "imports_create": (_import, {**POSTERS, "same_org": 200, "other_org": 200}),
    "leads_create": (_lead_create, BROKERS),
    "leads_claim": (_lead_claim, {**OPERATOR_ONLY, "broker": 200, "operator": 403}),
    "publications_create": (_publication, {**OPERATOR_ONLY, "operator": 201}),
}
for kind in ("achievements", "needs"):
    CASES.update({
        f"{kind}_create": (_create, POSTERS),
        f"{kind}_update": (_update, OWNER_ONLY),
        f"{kind}_delete": (_delete, {**OWNER_ONLY, "same_org": 204, "operator": 204}),
        f"{kind}_submit": _lifecycle("submit", "draft", OWNER_ONLY),
        f"{kind}_withdraw": _lifecycle("withdraw", "submitted", OWNER_ONLY),
        f"{kind}_close": _lifecycle("close", "published", OWNER_ONLY),
        f"{kind}_archive": _lifecycle("archive", "published", OWNER_ONLY),
        f"{kind}_reopen": _lifecycle("reopen", "archived", OWNER_ONLY),
        f"{kind}_approve": _lifecycle("approve", "submitted", OPERATOR_ONLY),
        f"{kind}_reject": _lifecycle("reject", "submitted", OPERATOR_ONLY),
    })


def _rules(dependant) -> set[str]:
    found = {getattr(dependant.call, "rule", None)} - {None}
    for sub in dependant.dependencies:
        found |= _rules(sub)
    return found


def _write_operations(app) -> set[str]:
    return {r.name for r in api_routes(app) if r.methods & {"POST", "PUT", "PATCH", "DELETE"}
            and r.name not in PUBLIC_OPERATIONS}


def test_every_write_endpoint_has_a_row_in_the_matrix(app):
    missing = _write_operations(app) - CASES.keys()
    assert not missing, f"add these write endpoints to the access matrix: {sorted(missing)}"
    assert not CASES.keys() - {r.name for r in api_routes(app)}, "the matrix names endpoints that no longer exist"


def test_every_route_is_public_on_purpose_or_guarded(app):
    for route in api_routes(app):
        guarded = bool(_rules(route.dependant))
        assert guarded != (route.name in PUBLIC_OPERATIONS), f"{route.name}: public={not guarded}"


@pytest.mark.parametrize("operation", sorted(CASES))
async def test_access_matrix(client, market, search, operation):
    setup, expected = CASES[operation]
    market.owner = await market.organisation(owner_kind(operation))
    callers = {
        "anonymous": ANONYMOUS, "same_org": market.owner,
        "other_org": await market.organisation(owner_kind(operation)),
        "broker": await market.broker(), "operator": await market.operator(),
    }
    seen = {}
    for caller in CALLERS:
        method, path, body = await setup(market, operation)
        headers = callers[caller].headers
        if method == "FILE":
            response = await client.post(path, headers=headers, files={"file": ("rows.jsonl", body)})
        else:
            response = await client.request(method, path, headers=headers, json=body)
        seen[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert "contact" not in response.text
    assert seen == {c: expected[c] for c in CALLERS}
