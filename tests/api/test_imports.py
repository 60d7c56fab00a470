"""Bulk import: upsert by external_id, idempotence, row errors, CSV."""

import asyncio
import json
from pathlib import Path

import opencc
from sqlalchemy import event
from sqlalchemy.orm import Session

from schemas.imports import ImportJobRead, ImportReport
from schemas.tables import Achievement
from services import imports
from tests.factories import achievement_body

EXAMPLE = Path(__file__).resolve().parents[2] / "seed" / "examples" / "achievements.csv"


def _jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


async def _import(client, caller, content: bytes, name="rows.jsonl", **params):
    return await client.post("/v1/imports/achievements", headers=caller.headers, params=params,
                             files={"file": (name, content)})


async def test_import_is_idempotent_and_reports_bad_rows(client, market):
    uni = await market.organisation("university")
    key = await market.api_key(uni)
    good = [achievement_body(external_id=f"SCU-{i}", title=f"高效钙钛矿太阳电池{i}") for i in range(3)]
    bad_field = achievement_body(external_id="SCU-BAD-1", field="nonsense")
    bad_patent = achievement_body(external_id="SCU-BAD-2", ip=[{"type": "invention_patent", "number": "ZL2021"}])
    content = _jsonl(good[0], bad_field, good[1], bad_patent, good[2]) + b"\n{not json\n"

    first = (await _import(client, key, content)).json()
    assert (first["total"], first["created"], first["failed"]) == (6, 3, 3)
    assert [(e["row"], e["field"]) for e in first["errors"]] == [(2, "field"), (4, "ip.0"), (6, None)]

    again = (await _import(client, key, content)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    listed = (await client.get("/v1/achievements", headers=uni.headers, params={"limit": 100})).json()["items"]
    assert sorted(i["external_id"] for i in listed) == ["SCU-0", "SCU-1", "SCU-2"]
    assert {i["status"] for i in listed} == {"submitted"}

    changed = _jsonl(good[0] | {"summary": "更新后的简介"})
    assert (await _import(client, key, changed)).json()["updated"] == 1


async def test_csv_import_with_flat_columns(client, market):
    uni = await market.organisation("university")
    csv_text = (
        "external_id,title,field,keywords,trl,stage,transfer_modes,price_negotiable,price_min,price_max,contact_name\n"
        "C-1,氢燃料电池膜电极,advanced_energy.hydrogen,膜电极;燃料电池,6,pilot,licence;assignment,false,"
        "100000.00,300000.00,王老师\n"
        "C-2,缺少字段的行,,,,,,,,,\n"
    )
    report = (await _import(client, uni, csv_text.encode(), name="rows.csv")).json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["errors"][0]["row"] == 2 and report["errors"][0]["field"] == "field"
    item = (await client.get("/v1/achievements", headers=uni.headers)).json()["items"][0]
    assert item["keywords"] == ["膜电极", "燃料电池"] and item["price"]["max"] == "300000.00"
    assert item["contact"]["name"] == "王老师"


async def test_import_rows_without_external_id_are_refused(client, market):
    uni = await market.organisation("university")
    body = achievement_body()
    body.pop("external_id", None)
    response = await _import(client, uni, _jsonl(body))
    assert response.status_code == 422 and response.json()["code"] == "import.rejected"
    assert response.json()["errors"][0]["field"] == "row 1.external_id"


async def test_import_answers_every_id_and_a_status_to_branch_on(client, market):
    uni = await market.organisation("university")
    rows = [achievement_body(external_id=f"ID-{i}", title=f"高效钙钛矿太阳电池{i}") for i in range(2)]
    first = await _import(client, uni, _jsonl(*rows))
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    items = first.json()["items"]
    assert [(i["row"], i["external_id"], i["action"]) for i in items] == [
        (1, "ID-0", "created"), (2, "ID-1", "created")]
    own = (await client.get(f"/v1/achievements/{items[0]['id']}", headers=uni.headers)).json()
    assert own["external_id"] == "ID-0"

    mixed = (await _import(client, uni, _jsonl(rows[0] | {"summary": "新简介"}, rows[1],
                                              achievement_body(external_id="ID-X", field="nonsense")))).json()
    assert mixed["status"] == "partial" and [i["action"] for i in mixed["items"]] == ["updated", "unchanged"]
    assert mixed["items"][0]["id"] == items[0]["id"] and mixed["errors"][0]["row"] == 3

    nothing = await _import(client, uni, _jsonl(achievement_body(external_id="ID-Y", field="nonsense"),
                                                achievement_body(external_id="ID-Z", trl=12)))
    assert nothing.status_code == 422 and nothing.headers["content-type"] == "application/problem+json"
    problem = nothing.json()
    assert problem["code"] == "import.rejected" and [e["field"] for e in problem["errors"]] == [
        "row 1.field", "row 2.trl"]


async def test_row_with_a_control_character_is_reported_and_the_others_land(client, market):
    uni = await market.organisation("university")
    rows = [achievement_body(external_id="N-1"), achievement_body(external_id="N-2", title="空\x00字符"),
            achievement_body(external_id="N-3", summary="含\u2028行分隔符的简介")]
    report = (await _import(client, uni, _jsonl(*rows))).json()
    assert (report["total"], report["created"], report["failed"]) == (3, 2, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(2, "title")]
    listed = (await client.get("/v1/achievements", headers=uni.headers)).json()["items"]
    assert {i["external_id"]: i["summary"] for i in listed}["N-3"] == "含\u2028行分隔符的简介"


async def test_raw_line_separator_in_a_row_does_not_split_it(client, market):
    uni = await market.organisation("university")
    line = json.dumps(achievement_body(external_id="LS-1", summary="甲\u2028乙\u2029丙"), ensure_ascii=False)
    report = (await _import(client, uni, line.encode())).json()
    assert (report["total"], report["created"], report["failed"]) == (1, 1, 0), report


async def test_operators_import_for_an_organisation(client, market):
    uni = await market.organisation("university")
    other = await market.organisation("university")
    operator = await market.operator()
    response = await _import(client, operator, _jsonl(achievement_body(external_id="OP-1")),
                             organisation_id=uni.organisation_id)
    assert response.status_code == 200, response.text
    created = response.json()["items"][0]["id"]
    listing = (await client.get(f"/v1/achievements/{created}", headers=uni.headers)).json()
    assert listing["organisation_id"] == uni.organisation_id and listing["status"] == "submitted"
    trail = (await client.get("/v1/audit", headers=operator.headers, params={"object_id": created})).json()["items"]
    assert trail[0]["actor_id"] == operator.user_id and trail[0]["organisation_id"] == uni.organisation_id
    refused = await _import(client, other, _jsonl(achievement_body(external_id="OP-2")),
                            organisation_id=uni.organisation_id)
    assert refused.status_code == 403 and refused.json()["field"] == "query.organisation_id"


async def test_the_example_csv_imports_from_gb18030_big5_and_utf8_with_bom(client, market):
    uni = await market.organisation("university")
    simplified = EXAMPLE.read_text(encoding="utf-8")
    traditional = opencc.OpenCC("s2tw.json").convert(simplified)
    for number, content in enumerate((simplified.encode("gb18030"), traditional.encode("big5"),
                                      simplified.encode("utf-8-sig"))):
        org = uni if number == 0 else await market.organisation("university")
        response = await _import(client, org, content, name="成果.csv")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted", response.json()
        listed = (await client.get("/v1/achievements", headers=org.headers, params={"mine": "true"})).json()["items"]
        first = next(i for i in listed if i["external_id"] == "EX-2024-001")
        assert first["title"].endswith("柔性采摘末端执行器" if number != 1 else "柔性採摘末端執行器")
        assert (first["field"], first["region"], first["stage"]) == ("artificial_intelligence", "cd.pidu", "pilot")
        assert [(r["type"], r.get("number")) for r in first["ip"]] == [
            ("invention_patent", "ZL202110123456.7"), ("software_copyright", "2023SR0123456")]
        assert first["transfer_modes"] == ["licence", "co_development"]
        assert first["attachments"][0]["url"] == "https://example.cn/ex-2024-001.pdf"
        second = next(i for i in listed if i["external_id"] == "EX-2024-002")
        assert second["region"] == "cd.tianfu" and second["ip"] == [{"type": "know_how", "number": None,
                                                                     "title": second["ip"][0]["title"]}]


async def test_a_large_import_is_a_background_job(client, market, ctx, sync, monkeypatch):
    monkeypatch.setattr(ctx.settings, "import_sync_max_rows", 2)
    uni = await market.organisation("university")
    other = await market.organisation("university")
    rows = [achievement_body(external_id=f"BIG-{i}", title=f"大批量导入的成果{i}") for i in range(3)]
    rows.append(achievement_body(external_id="BIG-BAD", field="nonsense"))
    response = await _import(client, uni, _jsonl(*rows))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["total"] == 4 and response.headers["location"].endswith(job["id"])
    assert (await client.get(f"/v1/imports/jobs/{job['id']}", headers=other.headers)).status_code == 404
    queued = (await client.get(f"/v1/imports/jobs/{job['id']}", headers=uni.headers)).json()
    assert queued["report"] is None and ImportJobRead.model_validate(queued).status == "queued"

    await sync()
    done = (await client.get(f"/v1/imports/jobs/{job['id']}", headers=uni.headers)).json()
    assert ImportJobRead.model_validate(done).report.created == 3  # the report passed on as stored fits the schema
    assert set(done["report"]) == set(ImportReport.model_fields)  # and holds nothing else
    assert (done["status"], done["processed"]) == ("done", 4)
    assert done["report"]["status"] == "partial" and done["report"]["created"] == 3
    assert done["report"]["errors"][0]["row"] == 4
    ids = {i["id"] for i in done["report"]["items"]}
    listed = (await client.get("/v1/achievements", headers=uni.headers, params={"mine": "true"})).json()["items"]
    assert {i["id"] for i in listed} == ids


async def test_csv_import_carries_the_problem_side(client, market):
    uni = await market.organisation("university")
    csv_text = ("external_id,title,field,application_scenarios,problems_solved\n"
                "C-1,氢燃料电池膜电极,advanced_energy.hydrogen,氢燃料电池物流车,续航短、冬天启动难\n")
    assert (await _import(client, uni, csv_text.encode(), name="rows.csv")).json()["created"] == 1
    item = (await client.get("/v1/achievements", headers=uni.headers)).json()["items"][0]
    assert (item["application_scenarios"], item["problems_solved"]) == ("氢燃料电池物流车", "续航短、冬天启动难")


async def test_an_import_answered_in_the_request_lets_other_requests_run_while_it_writes(client, market,
                                                                                          monkeypatch):
    """A file small enough to be imported in the request (up to IMPORT_SYNC_MAX_ROWS) is written a few rows
    at a time, and each flush's round trips hand the event loop to the other requests: a thousand rows
    flushed at once held an API process, `/health` included, for ~2.5 s."""
    monkeypatch.setattr(imports, "ROWS_PER_FLUSH", 5)
    uni = await market.organisation("university")
    turns, flushes = [0], []

    async def another_request() -> None:  # counts its turns on the event loop
        while True:
            turns[0] += 1
            await asyncio.sleep(0)  # wait-ok: yields its turn, waits on nothing

    def before_flush(session, context, instances) -> None:
        if written := sum(isinstance(row, Achievement) for row in session.new):
            flushes.append((written, turns[0]))

    event.listen(Session, "before_flush", before_flush)
    other = asyncio.create_task(another_request())
    try:
        rows = [achievement_body(external_id=f"FL-{n}", title=f"分批写入的成果{n}") for n in range(12)]
        response = await _import(client, uni, _jsonl(*rows))
    finally:
        other.cancel()
        event.remove(Session, "before_flush", before_flush)
    assert response.status_code == 200 and response.json()["created"] == 12
    assert [written for written, _ in flushes] == [5, 5, 2]
    assert flushes[0][1] < flushes[1][1] < flushes[2][1]  # the other request ran between the flushes
