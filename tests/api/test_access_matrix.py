"""Who may call what: every write endpoint × {anonymous, same org, other org, broker, operator}.

The matrix is checked against the route table: a new write endpoint without a row here fails, and so
does a route that is neither public (market.auth.PUBLIC_OPERATIONS) nor guarded by a rule.
"""

import pytest

from market.auth import PUBLIC_OPERATIONS
from tests.factories import ANONYMOUS, achievement_body, create_deal, create_listing, deal_body, need_body
from tests.routes import api_routes

CALLERS = ("anonymous", "same_org", "other_org", "broker", "operator")
OWNER_ONLY = {"anonymous": 401, "same_org": 200, "other_org": 404, "broker": 403, "operator": 200}
OPERATOR_ONLY = {"anonymous": 401, "same_org": 403, "other_org": 403, "broker": 403, "operator": 200}
POSTERS = {"anonymous": 401, "same_org": 201, "other_org": 201, "broker": 403, "operator": 403}
ORG_ADMIN = {"anonymous": 401, "same_org": 201, "other_org": 404, "broker": 403, "operator": 201}
BROKERS = {"anonymous": 401, "same_org": 403, "other_org": 403, "broker": 201, "operator": 201}
DEAL_PARTIES = {"anonymous": 401, "same_org": 200, "other_org": 404, "broker": 404, "operator": 200}
EVERYONE = {"anonymous": 200, "same_org": 200, "other_org": 200, "broker": 200, "operator": 200}
WORKERS = {"anonymous": 401, "same_org": 403, "other_org": 403, "broker": 200, "operator": 200}
PARTIES = {"anonymous": 401, "same_org": 200, "other_org": 404, "broker": 200, "operator": 200}


def owner_kind(op: str) -> str:
    return "enterprise" if op.startswith("needs") or op == "leads_consent_grant" else "university"


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


async def _sync_status(m, op):
    item = await _listing(m, op, "draft")
    return "GET", f"/v1/{listing_kind(op)}/{item['id']}/sync-status", None


async def _backlog(m, op):
    return "GET", "/v1/ops/backlog", None


async def _deal(m, sign: bool = False) -> dict:
    return await create_deal(m, m.owner, await m.organisation("enterprise"), sign=sign)


async def _deal_create(m, op):
    return "POST", "/v1/deals", deal_body(m.owner, await m.organisation("enterprise"))


async def _deal_get(m, op):
    return "GET", f"/v1/deals/{(await _deal(m))['id']}", None


async def _deal_list(m, op):
    await _deal(m)
    return "GET", "/v1/deals", None


async def _deal_update(m, op):
    return "PATCH", f"/v1/deals/{(await _deal(m))['id']}", {"title": "修订后的合同名称"}


def _deal_action(action: str, signed: bool, body: dict | None = None):
    async def setup(m, op):
        return "POST", f"/v1/deals/{(await _deal(m, sign=signed))['id']}/{action}", body
    return setup


async def _deal_from_lead(m, op):
    _, path, body = await _lead_create(m, op)
    lead = await m.client.post(path, json=body, headers=(await m.operator()).headers)
    return "POST", f"/v1/leads/{lead.json()['id']}/deal", {"contract_type": "licence", "amount": "500000.00"}


async def _obligation(m) -> tuple[dict, dict]:
    deal = await _deal(m, sign=True)
    created = await m.client.post(f"/v1/deals/{deal['id']}/obligations", headers=(await m.operator()).headers, json={
        "kind": "upfront", "title": "首付款", "due_on": "2026-04-15", "amount": "300000.00"})
    return deal, created.json()[0]


async def _obligation_list(m, op):
    return "GET", f"/v1/deals/{(await _deal(m))['id']}/obligations", None


async def _obligation_create(m, op):
    return "POST", f"/v1/deals/{(await _deal(m))['id']}/obligations", {
        "kind": "upfront", "title": "首付款", "due_on": "2026-04-15", "amount": "300000.00"}


async def _obligation_update(m, op):
    deal, obligation = await _obligation(m)
    return "PATCH", f"/v1/deals/{deal['id']}/obligations/{obligation['id']}", {"due_on": "2026-05-15"}


def _obligation_action(action: str, body: dict):
    async def setup(m, op):
        deal, obligation = await _obligation(m)
        return "POST", f"/v1/deals/{deal['id']}/obligations/{obligation['id']}/{action}", body
    return setup


async def _overdue(m, op):
    return "GET", "/v1/obligations/overdue", None


def _registration(action: str, body: dict, submitted: bool = False):
    async def setup(m, op):
        deal = await _deal(m, sign=True)
        if submitted:
            await m.client.post(f"/v1/deals/{deal['id']}/registration/submit", json={},
                                headers=(await m.operator()).headers)
        return "POST", f"/v1/deals/{deal['id']}/registration/{action}", body
    return setup


async def _registration_form(m, op):
    return "GET", f"/v1/deals/{(await _deal(m))['id']}/registration-form", None


def _stats(method: str, path: str):
    async def setup(m, op):
        return method, path, None
    return setup


async def _review(m, op):
    item = await _listing(m, op, "submitted")
    return "POST", f"/v1/{listing_kind(op)}/review", {"ids": [item["id"]], "action": "approve"}


async def _import_job(m, op):
    from schemas.imports import ImportJob

    async with m.ctx.sessions() as session, session.begin():
        job = ImportJob(organisation_id=m.owner.organisation_id, list_kind="achievements", format="jsonl",
                        content=b"", total=0)
        session.add(job)
    return "GET", f"/v1/imports/jobs/{job.id}", None


async def _lead_dismiss(m, op):
    _, path, body = await _lead_create(m, op)
    lead = await m.client.post(path, json=body, headers=(await m.operator()).headers)
    return "POST", f"/v1/leads/{lead.json()['id']}/dismiss", {"reason": "不相关"}


async def _pipeline_lead(m, op, stage: str | None = None, confidential: bool = False) -> str:
    """A lead between a new firm's need and the owner's achievement (the owner's need for consent grants),
    worked by the matrix's broker."""
    from tests.factories import create_lead

    firm, uni = await m.organisation("enterprise"), m.owner
    if op == "leads_consent_grant":
        firm, uni = m.owner, await m.organisation("university")
    lead = (await create_lead(m, firm, uni, confidential=confidential))["id"]
    operator = (await m.operator()).headers
    assigned = await m.client.post(f"/v1/leads/{lead}/assign", headers=operator,
                                   json={"broker_id": m.broker_caller.user_id})
    assert assigned.status_code == 200, assigned.text
    for step in ("contacted", "introduced", "negotiating", "won") if stage == "won" else ():
        await m.client.post(f"/v1/leads/{lead}/stage", headers=operator, json={"stage": step})
    return lead


def _on_lead(method: str, tail: str, body=None, **lead):
    async def setup(m, op):
        lead_id = await _pipeline_lead(m, op, **lead)
        if op == "leads_consent_grant":
            await m.client.post(f"/v1/leads/{lead_id}/consent-request", headers=m.broker_caller.headers)
        return method, f"/v1/leads/{lead_id}{tail}", body
    return setup


async def _broker_create(m, op):
    agency = await m.organisation("agency")
    user = await m.user(agency, ["broker"])
    return "POST", "/v1/brokers", {"user_id": user.user_id, "level": "junior"}


async def _broker(m, op):
    broker = await m.broker()
    return ("PATCH", f"/v1/brokers/{broker.user_id}", {"capacity": 7}) if op == "brokers_update" else (
        "GET", f"/v1/brokers/{broker.user_id}", None)


async def _assign(m, op):
    from tests.factories import create_lead

    lead = await create_lead(m, uni=m.owner)
    return "POST", f"/v1/leads/{lead['id']}/assign", {"broker_id": m.broker_caller.user_id}


def _fixed(method: str, path: str, body=None):
    async def setup(m, op):
        return method, path, body
    return setup


async def _webhook(m, op):
    import uuid

    from schemas.brokers import WebhookDelivery

    created = await m.client.post("/v1/webhooks", headers=m.owner.headers,
                                  json={"url": "http://127.0.0.1:9/hook", "events": ["lead.assigned"]})
    hook = created.json()["id"]
    if op == "webhooks_delete":
        return "DELETE", f"/v1/webhooks/{hook}", None
    if op == "webhooks_deliveries":
        return "GET", f"/v1/webhooks/{hook}/deliveries", None
    async with m.ctx.sessions() as session, session.begin():
        delivery = WebhookDelivery(endpoint_id=uuid.UUID(hook), event_id=1, topic="lead.assigned", body={"id": 1},
                                   status="failed", attempts=3)
        session.add(delivery)
    return "POST", f"/v1/webhooks/{hook}/deliveries/{delivery.id}/redeliver", None


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
    "import_jobs_get": (_import_job, {**OWNER_ONLY, "broker": 404}),
    "leads_create": (_lead_create, BROKERS),
    "leads_claim": (_lead_claim, {**OPERATOR_ONLY, "broker": 200, "operator": 403}),
    "leads_dismiss": (_lead_dismiss, {**OWNER_ONLY, "operator": 403}),
    "publications_create": (_publication, {**OPERATOR_ONLY, "operator": 201}),
    "ops_backlog": (_backlog, OPERATOR_ONLY),
    "deals_create": (_deal_create, {**BROKERS, "same_org": 201}),
    "deals_list": (_deal_list, {**DEAL_PARTIES, "other_org": 200, "broker": 200}),
    "deals_get": (_deal_get, DEAL_PARTIES),
    "deals_update": (_deal_update, DEAL_PARTIES),
    "deals_sign": (_deal_action("sign", False), DEAL_PARTIES),
    "deals_start": (_deal_action("start", True), DEAL_PARTIES),
    "deals_complete": (_deal_action("complete", True), DEAL_PARTIES),
    "deals_terminate": (_deal_action("terminate", True, {"reason": "双方协商解除"}), DEAL_PARTIES),
    "obligations_list": (_obligation_list, DEAL_PARTIES),
    "obligations_create": (_obligation_create, {**DEAL_PARTIES, "same_org": 201, "operator": 201}),
    "obligations_update": (_obligation_update, DEAL_PARTIES),
    "obligations_pay": (_obligation_action("pay", {}), DEAL_PARTIES),
    "obligations_waive": (_obligation_action("waive", {"note": "合同变更"}), DEAL_PARTIES),
    "obligations_overdue": (_overdue, {**DEAL_PARTIES, "other_org": 200, "broker": 200}),
    "registrations_submit": (_registration("submit", {}), DEAL_PARTIES),
    "registrations_record": (_registration("register", {
        "number": "2026510107000123", "registered_on": "2026-04-02", "certified_income": "1000000.00"},
        submitted=True), OPERATOR_ONLY),
    "registrations_refuse": (_registration("refuse", {"reason": "不属于技术合同"}, submitted=True), OPERATOR_ONLY),
    "registrations_form": (_registration_form, DEAL_PARTIES),
    "stats_turnover": (_fixed("GET", "/v1/stats/turnover?by=seller_type"), {**OPERATOR_ONLY, "same_org": 200,
                                                                              "other_org": 200, "broker": 200}),
    "stats_growth": (_fixed("GET", "/v1/stats/growth"), {**OPERATOR_ONLY, "same_org": 200, "other_org": 200,
                                                         "broker": 200}),
    "stats_public": (_fixed("GET", "/v1/stats/public"), dict.fromkeys(CALLERS, 200)),
    "stats_publish_year": (_fixed("PUT", "/v1/stats/public/2026"), OPERATOR_ONLY),
    "stats_unpublish_year": (_fixed("DELETE", "/v1/stats/public/2026"), {**OPERATOR_ONLY, "operator": 204}),
    "stats_funnel": (_fixed("GET", "/v1/stats/funnel?by=broker"), {**OPERATOR_ONLY, "same_org": 200,
                                                                    "other_org": 200, "broker": 200}),
    "stats_brokers": (_fixed("GET", "/v1/stats/brokers"), {**OPERATOR_ONLY, "broker": 200}),
    "leads_create_deal": (_deal_from_lead, {**BROKERS, "same_org": 201, "other_org": 404, "broker": 403}),
    "brokers_list": (_fixed("GET", "/v1/brokers"), EVERYONE),
    "brokers_get": (_broker, EVERYONE),
    "brokers_create": (_broker_create, {**ORG_ADMIN, "same_org": 404}),
    "brokers_update": (_broker, {**OPERATOR_ONLY, "operator": 200}),
    "leads_pool": (_fixed("GET", "/v1/leads/pool"), WORKERS),
    "leads_follow_ups": (_fixed("GET", "/v1/leads/follow-ups"), {**WORKERS, "operator": 403}),
    "leads_idle": (_fixed("GET", "/v1/leads/idle"), {**WORKERS, "operator": 403}),
    "leads_release": (_on_lead("POST", "/release"), WORKERS),
    "leads_assign": (_assign, OPERATOR_ONLY),
    "leads_change_stage": (_on_lead("POST", "/stage", {"stage": "contacted"}), WORKERS),
    "leads_stages": (_on_lead("GET", "/stages"), PARTIES),
    "leads_activities_create": (_on_lead("POST", "/activities", {"kind": "call", "text": "通话"}),
                                {**WORKERS, "broker": 201, "operator": 201}),
    "leads_activities_list": (_on_lead("GET", "/activities"), WORKERS),
    "leads_consent_request": (_on_lead("POST", "/consent-request", confidential=True),
                              {**WORKERS, "broker": 201, "operator": 403}),
    "leads_consent_grant": (_on_lead("POST", "/consent", {"method": "platform"}, confidential=True),
                            {**PARTIES, "broker": 403, "operator": 403}),
    "leads_introductions_list": (_on_lead("GET", "/introductions"), PARTIES),
    "leads_introductions_create": (_on_lead("POST", "/introductions", {"note": "引荐"}),
                                   {**WORKERS, "broker": 201, "operator": 403}),
    "leads_introductions_verify": (_on_lead("GET", "/introductions/verify"), PARTIES),
    "leads_rate": (_on_lead("POST", "/ratings", {"responsiveness": 5, "expertise": 5, "integrity": 5}, stage="won"),
                   {**PARTIES, "same_org": 201, "broker": 403, "operator": 403}),
    "webhooks_create": (_fixed("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["lead.assigned"]}),
                        {**ORG_ADMIN, "other_org": 201}),
    "webhooks_list": (_fixed("GET", "/v1/webhooks"), {**ORG_ADMIN, "same_org": 200, "other_org": 200, "operator": 200}),
    "webhooks_delete": (_webhook, {**ORG_ADMIN, "same_org": 204, "operator": 204}),
    "webhooks_deliveries": (_webhook, {**ORG_ADMIN, "same_org": 200, "operator": 200}),
    "webhooks_redeliver": (_webhook, {**ORG_ADMIN, "same_org": 200, "operator": 200}),
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
        f"{kind}_sync_status": (_sync_status, {**OWNER_ONLY, "anonymous": 404, "broker": 404}),
        f"{kind}_review": (_review, OPERATOR_ONLY),
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
    market.broker_caller = callers["broker"]
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
