"""The two lists through the API: lifecycle, visibility, confidentiality, filters and pagination."""

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.factories import achievement_body, create_listing, need_body


async def test_achievement_lifecycle_draft_submit_reject_resubmit_publish_close(client, market):
    uni = await market.organisation("university")
    operator = await market.operator()
    created = await client.post("/v1/achievements", json=achievement_body(), headers=uni.headers)
    assert created.status_code == 201
    item = created.json()
    assert item["status"] == "draft" and item["price"] == {"negotiable": False, "min": "500000.00",
                                                            "max": "1500000.00"}
    aid = item["id"]

    assert (await client.post(f"/v1/achievements/{aid}/approve", headers=operator.headers)).status_code == 409
    assert (await client.post(f"/v1/achievements/{aid}/submit", headers=uni.headers)).json()["status"] == "submitted"
    assert (await client.post(f"/v1/achievements/{aid}/approve", headers=uni.headers)).status_code == 403
    rejected = await client.post(f"/v1/achievements/{aid}/reject", headers=operator.headers,
                                 json={"reason": "请补充技术指标"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["rejection_reason"] == "请补充技术指标"
    await client.post(f"/v1/achievements/{aid}/submit", headers=uni.headers)
    published = await client.post(f"/v1/achievements/{aid}/approve", headers=operator.headers)
    assert published.json()["status"] == "published" and published.json()["published_at"]
    closed = await client.post(f"/v1/achievements/{aid}/close", headers=uni.headers)
    assert closed.json()["status"] == "closed"
    illegal = await client.post(f"/v1/achievements/{aid}/close", headers=uni.headers)
    assert illegal.status_code == 409 and illegal.json()["code"] == "listing.illegal_transition"

    trail = (await client.get("/v1/audit", headers=operator.headers, params={"object_id": aid})).json()["items"]
    assert [e["action"] for e in reversed(trail)] == [
        "achievement.created", "achievement.submitted", "achievement.rejected", "achievement.submitted",
        "achievement.published", "achievement.closed"]


async def test_a_published_listing_stays_live_while_its_edit_is_reviewed(client, market, search, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    operator = await market.operator()
    item = await create_listing(market, "achievements", uni, title="茶叶嫩芽视觉识别与采摘机器人")
    need = await create_listing(market, "needs", firm)
    await sync()
    path = f"/v1/achievements/{item['id']}"
    minor = await client.patch(path, headers=uni.headers, json={"contact": {"name": "李老师"}})
    assert minor.json()["status"] == "published" and minor.json()["revision"] is None

    edited = (await client.patch(path, headers=uni.headers, json={"title": "光伏组件清洗机器人"})).json()
    assert edited["status"] == "published" and edited["title"] == "茶叶嫩芽视觉识别与采摘机器人"
    assert edited["revision"]["status"] == "submitted"
    assert edited["revision"]["values"] == {"title": "光伏组件清洗机器人"}
    await sync()
    public = (await client.get(path)).json()  # still live, in its published form, without the revision
    assert public["title"] == "茶叶嫩芽视觉识别与采摘机器人" and public["revision"] is None
    hits = (await client.get("/v1/search/achievements", params={"q": "嫩芽"})).json()["hits"]
    assert [h["id"] for h in hits] == [item["id"]]
    assert item["id"] in (await client.get(f"/v1/needs/{need['id']}/matches")).text
    pending = (await client.get("/v1/achievements", params={"revision": "true"}, headers=operator.headers)).json()
    assert [i["id"] for i in pending["items"]] == [item["id"]]

    rejected = (await client.post(f"{path}/reject", headers=operator.headers, json={"reason": "标题与内容不符"})).json()
    assert rejected["status"] == "published" and rejected["title"] == "茶叶嫩芽视觉识别与采摘机器人"
    assert rejected["revision"]["status"] == "rejected" and rejected["revision"]["rejection_reason"] == "标题与内容不符"

    await client.patch(path, headers=uni.headers, json={"title": "茶叶嫩芽识别采摘机器人（第二代）"})
    approved = (await client.post(f"{path}/approve", headers=operator.headers)).json()
    assert approved["status"] == "published" and approved["revision"] is None
    assert approved["title"] == "茶叶嫩芽识别采摘机器人（第二代）"
    await sync()
    hits = (await client.get("/v1/search/achievements", params={"q": "第二代"})).json()["hits"]
    assert [h["id"] for h in hits] == [item["id"]]
    trail = (await client.get("/v1/audit", headers=operator.headers, params={"object_id": item["id"]})).json()
    assert [e["action"] for e in reversed(trail["items"])][-5:] == [
        "achievement.updated", "achievement.revision_submitted", "achievement.revision_rejected",
        "achievement.revision_submitted", "achievement.revision_approved"]


async def test_editing_back_to_the_live_version_withdraws_the_revision(client, market):
    uni = await market.organisation("university")
    item = await create_listing(market, "achievements", uni)
    path = f"/v1/achievements/{item['id']}"
    await client.patch(path, headers=uni.headers, json={"summary": "改过的简介", "trl": 7})
    back = (await client.patch(path, headers=uni.headers, json={"summary": item["summary"]})).json()
    assert back["revision"]["values"] == {"trl": 7}
    back = (await client.patch(path, headers=uni.headers, json={"trl": 6})).json()
    assert back["revision"] is None and back["status"] == "published"


async def test_other_org_gets_404_for_a_draft_and_cannot_write(client, market):
    a = await market.organisation("university")
    b = await market.organisation("university")
    draft = await create_listing(market, "achievements", a, publish=False)
    assert (await client.get(f"/v1/achievements/{draft['id']}", headers=b.headers)).status_code == 404
    assert (await client.get(f"/v1/achievements/{draft['id']}")).status_code == 404
    write = await client.patch(f"/v1/achievements/{draft['id']}", headers=b.headers, json={"title": "被篡改的标题"})
    assert write.status_code == 404
    assert (await client.get(f"/v1/achievements/{draft['id']}", headers=a.headers)).json()["title"] == draft["title"]


async def test_public_sees_no_contact_and_confidential_need_hides_the_firm(client, market):
    firm = await market.organisation("enterprise", name="成都保密科技有限公司")
    need = await create_listing(market, "needs", firm, confidential=True)
    public = (await client.get(f"/v1/needs/{need['id']}")).json()
    assert public["organisation_name"] == "某企业" and public["organisation_id"] is None
    assert public["contact"] is None and public["external_id"] is None
    other = await market.organisation("enterprise")
    assert (await client.get(f"/v1/needs/{need['id']}", headers=other.headers)).json()["contact"] is None
    own = (await client.get(f"/v1/needs/{need['id']}", headers=firm.headers)).json()
    assert own["organisation_name"] == "成都保密科技有限公司" and own["contact"]["name"] == "王总"
    # filtering by the firm's id must not reveal its confidential needs
    listed = (await client.get("/v1/needs", params={"organisation_id": firm.organisation_id})).json()
    assert listed["items"] == []
    assert "成都保密科技有限公司" not in (await client.get("/v1/needs")).text


@pytest.mark.parametrize(("override", "field"), [
    ({"field": "no_such_field"}, "body.field"),
    ({"region": "mars"}, "body.region"),
    ({"trl": 2, "stage": "production"}, "body"),
    ({"ip": [{"type": "invention_patent", "number": "ZL202110123456.8"}]}, "body.ip.0"),
    ({"price": {"negotiable": False, "min": "900.00", "max": "100.00"}}, "body.price"),
    ({"price": {"negotiable": False, "min": "1.005"}}, "body.price.min"),
    ({"status": "published"}, "body.status"),
    ({"organisation_id": "00000000-0000-0000-0000-000000000000"}, "body.organisation_id"),
])
async def test_invalid_achievements_are_422_naming_the_field(client, market, override, field):
    uni = await market.organisation("university")
    response = await client.post("/v1/achievements", json=achievement_body(**override), headers=uni.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)
    assert (await client.get("/v1/achievements", headers=uni.headers)).json()["items"] == []


async def test_enterprise_cannot_post_as_operator_org_and_api_key_scopes(client, market):
    operator = await market.operator()
    assert (await client.post("/v1/needs", json=need_body(), headers=operator.headers)).status_code == 403
    firm = await market.organisation("enterprise")
    reader = await market.api_key(firm, scopes=["read"])
    assert (await client.post("/v1/needs", json=need_body(), headers=reader.headers)).status_code == 403
    writer = await market.api_key(firm, scopes=["write"])
    assert (await client.post("/v1/needs", json=need_body(), headers=writer.headers)).status_code == 201


async def test_filters_and_stable_cursor_pagination(client, market):
    uni = await market.organisation("university")
    for i in range(5):
        await create_listing(market, "achievements", uni, title=f"氢能储运材料{i}", field="advanced_energy.hydrogen",
                             trl=7, external_id=f"H-{i}")
    await create_listing(market, "achievements", uni, title="光伏组件清洗机器人",
                         field="green_low_carbon.photovoltaics", trl=8, stage="production", external_id="PV-1")
    by_field = (await client.get("/v1/achievements", params={"field": "advanced_energy"})).json()["items"]
    assert len(by_field) == 5
    assert len((await client.get("/v1/achievements", params={"trl_min": 8})).json()["items"]) == 1

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/v1/achievements", params=params)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6
    bad = await client.get("/v1/achievements", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["code"] == "pagination.invalid_cursor"


async def test_duplicate_external_id_is_409(client, market):
    uni = await market.organisation("university")
    await create_listing(market, "achievements", uni, publish=False, external_id="X-1")
    again = await client.post("/v1/achievements", json=achievement_body(external_id="X-1"), headers=uni.headers)
    assert again.status_code == 409 and again.json()["code"] == "achievement.duplicate_external_id"


async def test_only_drafts_are_deleted(client, market):
    uni = await market.organisation("university")
    published = await create_listing(market, "achievements", uni)
    assert (await client.delete(f"/v1/achievements/{published['id']}", headers=uni.headers)).status_code == 409
    draft = await create_listing(market, "achievements", uni, publish=False, external_id="D-1")
    assert (await client.delete(f"/v1/achievements/{draft['id']}", headers=uni.headers)).status_code == 204
    assert (await client.get(f"/v1/achievements/{draft['id']}", headers=uni.headers)).status_code == 404


@pytest.mark.parametrize(("patch", "field"), [
    ({"title": None}, "body.title"),
    ({"keywords": None}, "body.keywords"),
    ({"stage": "production"}, "body.stage"),  # TRL 6 stays: the merged row is inconsistent
])
async def test_patch_refuses_null_and_inconsistent_merges(client, market, patch, field):
    uni = await market.organisation("university")
    item = await create_listing(market, "achievements", uni, publish=False)
    response = await client.patch(f"/v1/achievements/{item['id']}", headers=uni.headers, json=patch)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)
    cleared = await client.patch(f"/v1/achievements/{item['id']}", headers=uni.headers, json={"region": None})
    assert cleared.status_code == 200 and cleared.json()["region"] is None


async def test_user_and_organisation_patch_refuse_null(client, market):
    org = await market.organisation()
    for path, body in ((f"/v1/users/{org.user_id}", {"active": None}),
                       (f"/v1/organisations/{org.organisation_id}", {"name": None})):
        response = await client.patch(path, headers=org.headers, json=body)
        assert response.status_code == 422 and response.json()["field"] == f"body.{next(iter(body))}"


async def test_deleting_a_rejected_listing_that_had_leads(client, market, sync):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise")
    operator = await market.operator()
    item = await create_listing(market, "achievements", uni, external_id="L-1")
    await create_listing(market, "needs", firm)
    await sync()
    await client.post(f"/v1/achievements/{item['id']}/archive", headers=uni.headers)
    await client.post(f"/v1/achievements/{item['id']}/reopen", headers=uni.headers)
    await client.post(f"/v1/achievements/{item['id']}/submit", headers=uni.headers)
    await client.post(f"/v1/achievements/{item['id']}/reject", headers=operator.headers, json={"reason": "请补充"})
    assert (await client.delete(f"/v1/achievements/{item['id']}", headers=uni.headers)).status_code == 204


@pytest.mark.parametrize(("path", "as_operator"), [
    ("/v1/achievements", False), ("/v1/organisations", False), ("/v1/audit", True), ("/v1/leads", True),
])
@pytest.mark.parametrize("cursor", ["WyJ4Il0", "WzEsMl0", "WzFlKzQwMCwgIngiXQ", "WzkyMjMzNzIwMzY4NTQ3NzU4MDld"])
async def test_crafted_cursors_are_422(client, market, path, as_operator, cursor):
    headers = (await market.operator()).headers if as_operator else {}
    response = await client.get(path, params={"cursor": cursor}, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "pagination.invalid_cursor"


@pytest.mark.parametrize("path", ["/v1/achievements", "/v1/search/achievements", "/v1/search/needs"])
@pytest.mark.parametrize("amount", ["1E+20", "-5", "0.001", "abc"])
async def test_out_of_range_amounts_are_422(client, search, path, amount):
    response = await client.get(path, params={"amount_min": amount})
    assert response.status_code == 422 and response.json()["field"] == "query.amount_min"


async def test_operators_review_many_listings_in_one_request(client, market):
    uni = await market.organisation("university")
    operator = await market.operator()
    submitted = [(await client.post("/v1/achievements", params={"submit": "true"}, headers=uni.headers,
                                    json=achievement_body(external_id=f"R-{i}"))).json()["id"] for i in range(3)]
    draft = await create_listing(market, "achievements", uni, publish=False, external_id="R-draft")
    missing = "00000000-0000-0000-0000-000000000000"
    response = await client.post("/v1/achievements/review", headers=operator.headers, json={
        "ids": [*submitted, draft["id"], missing], "action": "approve"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["succeeded"], report["failed"]) == (3, 2)
    outcome = {i["id"]: (i["status"], i.get("code"), i.get("listing_status")) for i in report["items"]}
    assert outcome[submitted[0]] == (200, None, "published")
    assert outcome[draft["id"]] == (409, "listing.illegal_transition", None)
    assert outcome[missing] == (404, "achievement.not_found", None)
    assert (await client.get(f"/v1/achievements/{submitted[2]}")).json()["status"] == "published"
    refused = await client.post("/v1/achievements/review", headers=operator.headers,
                                json={"ids": submitted, "action": "reject"})
    assert refused.status_code == 422 and refused.json()["field"] == "body"


async def test_a_need_past_its_deadline_or_challenge_is_refused_and_closed_when_it_passes(client, market, ctx, sync):
    from datetime import UTC, datetime

    from sqlalchemy import update

    from schemas.tables import Need
    from services.listings.review import tick_need_deadlines

    firm = await market.organisation("enterprise")
    operator = await market.operator()
    late = await client.post("/v1/needs", params={"submit": "true"}, headers=firm.headers,
                             json=need_body(deadline="2020-01-31"))
    assert late.status_code == 422 and late.json()["field"] == "deadline"
    draft = await create_listing(market, "needs", firm, publish=False, external_id="N-1", challenge={
        "reward": "100000.00", "opens": "2020-01-01", "closes": "2020-03-01"})
    refused = await client.post(f"/v1/needs/{draft['id']}/submit", headers=firm.headers)
    assert refused.status_code == 422 and refused.json()["field"] == "challenge.closes"

    waiting = await create_listing(market, "needs", firm, publish=False, external_id="N-2")
    await client.post(f"/v1/needs/{waiting['id']}/submit", headers=firm.headers)
    async with ctx.sessions() as session, session.begin():  # it waited in review past its deadline
        await session.execute(update(Need).where(Need.id == waiting["id"]).values(deadline=datetime(2021, 1, 1)))
    refused = await client.post(f"/v1/needs/{waiting['id']}/approve", headers=operator.headers)
    assert refused.status_code == 422 and refused.json()["code"] == "need.deadline_passed"

    live = await create_listing(market, "needs", firm, external_id="N-3", deadline="2027-06-30")
    await sync()
    assert await tick_need_deadlines(ctx, datetime(2027, 6, 30, 15, 0, tzinfo=UTC)) == 0  # 23:00 in Chengdu
    assert await tick_need_deadlines(ctx, datetime(2027, 6, 30, 16, 30, tzinfo=UTC)) == 1
    await sync()
    assert (await client.get(f"/v1/needs/{live['id']}", headers=firm.headers)).json()["status"] == "closed"
    assert (await client.get("/v1/search/needs", params={"q": "采茶"})).json()["hits"] == []
    trail = (await client.get("/v1/audit", headers=operator.headers, params={"object_id": live["id"]})).json()
    assert trail["items"][0]["action"] == "need.closed" and trail["items"][0]["actor_type"] == "system"


async def test_names_are_resolved_forgivingly_on_input(client, market):
    uni = await market.organisation("university")
    body = achievement_body(field="現代農業", secondary_fields=["智慧農業"], region="郫都區", stage="中试",
                            transfer_modes=["許可", "技术入股"], trl=6,
                            ip=[{"type": "发明专利", "number": "ZL202110123456.7"}])
    created = await client.post("/v1/achievements", json=body, headers=uni.headers)
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["field"], item["secondary_fields"], item["region"], item["stage"]) == (
        "modern_agriculture", ["modern_agriculture.smart_agriculture"], "cd.pidu", "pilot")
    assert item["transfer_modes"] == ["licence", "equity"] and item["ip"][0]["type"] == "invention_patent"
    patched = await client.patch(f"/v1/achievements/{item['id']}", headers=uni.headers, json={"region": "天府新区"})
    assert patched.json()["region"] == "cd.tianfu"
    listed = await client.get("/v1/achievements", headers=uni.headers, params={"field": "现代农业", "region": "天府"})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]

    unknown = await client.post("/v1/achievements", json=achievement_body(field="现代农业科技"), headers=uni.headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "body.field"
    assert "modern_agriculture" in unknown.json()["detail"]  # the closest candidate
    stage = await client.post("/v1/achievements", json=achievement_body(stage="试产"), headers=uni.headers)
    assert stage.status_code == 422 and stage.json()["field"] == "body.stage" and "pilot" in stage.json()["detail"]


@pytest.mark.parametrize("kind", ["achievements", "needs"])
async def test_mine_lists_the_callers_own_listings_in_every_status(client, market, kind):
    owner = await market.organisation("enterprise" if kind == "needs" else "university")
    other = await market.organisation("enterprise" if kind == "needs" else "university")
    draft = await create_listing(market, kind, owner, publish=False, external_id="M-1")
    published = await create_listing(market, kind, owner, external_id="M-2")
    await create_listing(market, kind, other, external_id="M-3")
    mine = (await client.get(f"/v1/{kind}", params={"mine": "true"}, headers=owner.headers)).json()["items"]
    assert {i["id"] for i in mine} == {draft["id"], published["id"]}
    key = await market.api_key(owner, scopes=["read"])
    assert len((await client.get(f"/v1/{kind}", params={"mine": "true"}, headers=key.headers)).json()["items"]) == 2
    anonymous = await client.get(f"/v1/{kind}", params={"mine": "true"})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/v1/achievements", "/v1/needs"])
@pytest.mark.parametrize("sort", ["-updated_at", "-published_at"])
async def test_a_browse_page_reads_an_index_in_order_not_a_sort_of_the_whole_list(client, ctx, path, sort):
    """The newest-first page a visitor browses takes its 20 rows from an index in that order: without one,
    PostgreSQL sorts every published row for each page (~70 ms of three processes at 100,000 listings). The
    page's own statement is explained with sorting priced out, so a plan that still sorts has no index."""
    seen, table, column = [], path.rsplit("/", 1)[1].rstrip("s"), sort.lstrip("-")

    def capture(conn, cursor, statement, parameters, context, executemany):
        if f"ORDER BY {table}.{column} DESC" in statement:
            seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert (await client.get(path, params={"sort": sort, "limit": 20})).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    (statement, parameters), = seen
    async with ctx.sessions() as session:
        connection = await session.connection()
        await connection.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = "\n".join(row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    assert "Sort" not in plan, plan
