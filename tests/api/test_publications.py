"""Publishing the two lists: numbered versions, their diffs, and downloads."""

import csv
import io

from openpyxl import load_workbook

from tests.factories import create_listing


async def test_versions_diff_and_downloads(client, market):
    operator = await market.operator()
    uni = await market.organisation("university")
    a = await create_listing(market, "achievements", uni, title="第一项成果：高强度碳纤维", external_id="P-1")
    b = await create_listing(market, "achievements", uni, title="第二项成果：固态电解质", external_id="P-2")

    v1 = await client.post("/v1/publications", json={"list_kind": "achievements"}, headers=operator.headers)
    assert v1.status_code == 201
    v1 = v1.json()
    assert (v1["version"], v1["total"], v1["added"], v1["removed"], v1["changed"]) == (1, 2, 2, 0, 0)

    await client.post(f"/v1/achievements/{b['id']}/archive", headers=uni.headers)
    await client.patch(f"/v1/achievements/{a['id']}", headers=uni.headers,
                       json={"price": {"negotiable": True}})  # minor: stays published, content changes
    c = await create_listing(market, "achievements", uni, title="第三项成果：钠离子电池", external_id="P-3")
    v2 = (await client.post("/v1/publications", json={"list_kind": "achievements"}, headers=operator.headers)).json()
    assert (v2["version"], v2["total"], v2["added"], v2["removed"], v2["changed"]) == (2, 2, 1, 1, 1)
    assert v2["added_ids"] == [c["id"]] and v2["removed_ids"] == [b["id"]] and v2["changed_ids"] == [a["id"]]

    old_csv = await client.get(f"/v1/publications/{v1['id']}/download", params={"format": "csv"})
    assert old_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(old_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "title", "organisation_name"]
    assert sorted(r[1] for r in rows[1:]) == sorted([a["title"], b["title"]])  # the old version is frozen

    xlsx = await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 3
    as_json = (await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "json"})).json()
    assert {i["id"] for i in as_json} == {a["id"], c["id"]} and all("contact" not in i for i in as_json)
    assert [p["version"] for p in (await client.get("/v1/publications")).json()] == [2, 1]


async def test_per_field_lists_are_numbered_separately(client, market):
    operator = await market.operator()
    uni = await market.organisation("university")
    await create_listing(market, "achievements", uni, field="advanced_energy.hydrogen", external_id="F-1")
    await create_listing(market, "achievements", uni, field="biomedicine.tcm", external_id="F-2")
    energy = (await client.post("/v1/publications", headers=operator.headers,
                                json={"list_kind": "achievements", "field": "advanced_energy"})).json()
    whole = (await client.post("/v1/publications", headers=operator.headers,
                               json={"list_kind": "achievements"})).json()
    assert (energy["version"], energy["total"]) == (1, 1) and (whole["version"], whole["total"]) == (1, 2)
