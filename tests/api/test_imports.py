"""Bulk import: upsert by external_id, idempotence, row errors, CSV."""

import json

from tests.factories import achievement_body


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
    report = (await _import(client, uni, _jsonl(body))).json()
    assert report["failed"] == 1 and report["errors"][0]["field"] == "external_id"


async def test_csv_import_carries_the_problem_side(client, market):
    uni = await market.organisation("university")
    csv_text = ("external_id,title,field,application_scenarios,problems_solved\n"
                "C-1,氢燃料电池膜电极,advanced_energy.hydrogen,氢燃料电池物流车,续航短、冬天启动难\n")
    assert (await _import(client, uni, csv_text.encode(), name="rows.csv")).json()["created"] == 1
    item = (await client.get("/v1/achievements", headers=uni.headers)).json()["items"][0]
    assert (item["application_scenarios"], item["problems_solved"]) == ("氢燃料电池物流车", "续航短、冬天启动难")
