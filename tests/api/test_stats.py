"""Statistics: every dimension reconciles with the deals to the cent; exports; who sees which figures."""

import csv
import io
from collections import defaultdict
from decimal import Decimal

from openpyxl import load_workbook

from tests.factories import create_deal

DIMENSIONS = ("year", "quarter", "month", "field", "contract_type", "seller_type", "seller", "buyer_region",
              "broker")


async def _world(market, client):
    """Five counted contracts over two years, one draft and one terminated contract that do not count."""
    uni = await market.organisation("university", region="cd.wuhou", name="=cmd|' /C calc'!A0 大学")
    inst = await market.organisation("institute", region="cn.beijing")
    firm_a = await market.organisation("enterprise", region="cd.pujiang")
    firm_b = await market.organisation("enterprise", region="cn.chongqing")
    broker1, broker2 = await market.broker(), await market.broker()
    ops = (await market.operator()).headers
    specs = [
        (uni, firm_a, dict(contract_type="licence", signed_on="2025-02-10", amount="1000000.00",
                           technology_amount="800000.00", broker_id=broker1.user_id)),
        (uni, firm_b, dict(contract_type="development", signed_on="2025-08-01", amount="333333.33",
                           technology_amount="333333.33", field="biomedicine.innovative_drugs")),
        (inst, firm_a, dict(contract_type="transfer", signed_on="2026-01-15", amount="2500000.50",
                            technology_amount="2000000.25", broker_id=broker2.user_id)),
        (firm_a, firm_b, dict(contract_type="service", signed_on="2026-05-20", amount="120000.01",
                              technology_amount="100000.00", broker_id=broker1.user_id, field=None)),
        (inst, firm_b, dict(contract_type="consulting", signed_on="2026-11-30", amount="50000.00",
                            technology_amount="50000.00")),
    ]
    deals = [await create_deal(market, seller, buyer, sign=True, **extra) for seller, buyer, extra in specs]
    registered = await client.post(f"/v1/deals/{deals[2]['id']}/registration/register", headers=ops, json={
        "number": "2026510107000001", "registered_on": "2026-02-01", "certified_income": "1999999.99"})
    assert registered.status_code == 200, registered.text
    await create_deal(market, uni, firm_a, amount="999.99", technology_amount="999.99")  # a draft
    ended = await create_deal(market, uni, firm_a, sign=True, amount="777.77", technology_amount="777.77")
    await client.post(f"/v1/deals/{ended['id']}/terminate", json={"reason": "解除"}, headers=ops)
    counted = [(await client.get(f"/v1/deals/{d['id']}", headers=ops)).json() for d in deals]
    return dict(uni=uni, inst=inst, firm_a=firm_a, broker1=broker1, ops=ops, deals=counted,
                regions={o.organisation_id: r for o, r in ((uni, "cd.wuhou"), (inst, "cn.beijing"),
                                                           (firm_a, "cd.pujiang"), (firm_b, "cn.chongqing"))})


def _key(deal: dict, dimension: str, regions: dict) -> str | None:
    day = deal["signed_on"]
    return {
        "year": day[:4], "quarter": f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}", "month": day[:7],
        "field": deal["field"].split(".")[0] if deal["field"] else None, "contract_type": deal["contract_type"],
        "seller_type": deal["seller_type"], "seller": deal["seller_id"], "buyer_region": regions[deal["buyer_id"]],
        "broker": deal["broker_id"],
    }[dimension]


def _expected(deals: list[dict], dimension: str, regions: dict) -> dict:
    """The test's own sums, from the deals as the API returns them."""
    sums = defaultdict(lambda: [0, Decimal("0"), Decimal("0")])
    for deal in deals:
        technology = deal["registration"]["certified_income"] if deal["registration"]["state"] == "registered" \
            else deal["technology_amount"]
        entry = sums[_key(deal, dimension, regions)]
        entry[0] += 1
        entry[1] += Decimal(deal["amount"])
        entry[2] += Decimal(technology)
    return {k: (n, f"{t:.2f}", f"{tt:.2f}") for k, (n, t, tt) in sums.items()}


async def test_every_dimension_reconciles_with_the_deals_to_the_cent(client, market):
    world = await _world(market, client)
    for dimension in DIMENSIONS:
        response = await client.get("/v1/stats/turnover", params={"by": dimension}, headers=world["ops"])
        assert response.status_code == 200, response.text
        body = response.json()
        got = {r["key"]: (r["deals"], r["turnover"], r["technology_turnover"]) for r in body["rows"]}
        assert got == _expected(world["deals"], dimension, world["regions"]), dimension
        assert body["total"] == {"deals": 5, "turnover": "4003333.84", "technology_turnover": "3283333.32"}
    by_type = (await client.get("/v1/stats/turnover", params={"by": "contract_type"}, headers=world["ops"])).json()
    assert {r["label"] for r in by_type["rows"]} == {"技术许可", "技术开发", "技术转让", "技术服务", "技术咨询"}


async def test_growth_against_the_target_and_the_academic_share(client, market):
    world = await _world(market, client)
    rows = (await client.get("/v1/stats/growth", headers=world["ops"])).json()["rows"]
    assert [(r["year"], r["turnover"]) for r in rows] == [(2025, "1333333.33"), (2026, "2670000.51")]
    expected = ((Decimal("2670000.51") - Decimal("1333333.33")) / Decimal("1333333.33")).quantize(Decimal("0.0001"))
    assert Decimal(rows[1]["growth"]) == expected and rows[1]["target_met"] is True
    assert rows[0]["growth"] is None and Decimal(rows[0]["target"]) == Decimal("0.10")
    assert rows[1]["academic_turnover"] == "2550000.50"
    assert Decimal(rows[1]["academic_share"]) == (Decimal("2550000.50") / Decimal("2670000.51")).quantize(
        Decimal("0.0001"))


async def test_exports_have_chinese_headers_numbers_as_numbers_and_no_formulas(client, market):
    world = await _world(market, client)
    params = {"by": "seller", "format": "csv"}
    response = await client.get("/v1/stats/turnover", params=params, headers=world["ops"])
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["代码", "名称", "合同数（项）", "成交额（元）", "技术交易额（元）"]
    uni_line = next(line for line in lines if line[0] == world["uni"].organisation_id)
    assert uni_line[1].startswith("'=cmd") and uni_line[2:] == ["2", "1333333.33", "1133333.33"]
    assert lines[-1][1:] == ["合计", "5", "4003333.84", "3283333.32"]

    xlsx = await client.get("/v1/stats/turnover", params={"by": "seller", "format": "xlsx"}, headers=world["ops"])
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(min_row=2))
    uni_row = next(r for r in rows if r[0].value == world["uni"].organisation_id)
    assert uni_row[1].data_type == "s" and uni_row[1].value.startswith("=cmd")
    assert uni_row[2].value == 2 and uni_row[3].data_type == "n" and uni_row[3].value == 1333333.33
    growth = await client.get("/v1/stats/growth", params={"format": "xlsx"}, headers=world["ops"])
    header = [c.value for c in next(load_workbook(io.BytesIO(growth.content)).active.iter_rows())]
    assert header[:3] == ["年度", "合同数（项）", "成交额（元）"]


async def test_who_sees_which_figures(client, market):
    world = await _world(market, client)
    uni_total = (await client.get("/v1/stats/turnover", headers=world["uni"].headers)).json()
    assert uni_total["scope"] == "organisation" and uni_total["total"]["turnover"] == "1333333.33"
    broker_total = (await client.get("/v1/stats/turnover", headers=world["broker1"].headers)).json()
    assert broker_total["scope"] == "broker" and broker_total["total"]["turnover"] == "1120000.01"
    stranger = await market.organisation("enterprise")
    assert (await client.get("/v1/stats/turnover", headers=stranger.headers)).json()["total"]["deals"] == 0
    assert (await client.get("/v1/stats/turnover")).status_code == 401
    assert (await client.get("/v1/stats/growth")).status_code == 401

    assert (await client.get("/v1/stats/public")).json()["rows"] == []
    assert (await client.put("/v1/stats/public/2026", headers=world["uni"].headers)).status_code == 403
    assert (await client.put("/v1/stats/public/2026", headers=world["ops"])).status_code == 200
    public = (await client.get("/v1/stats/public")).json()
    assert [(r["year"], r["turnover"]) for r in public["rows"]] == [(2026, "2670000.51")]
    assert public["rows"][0]["growth"] is not None  # growth on the (non-public) year before is still shown
    assert (await client.delete("/v1/stats/public/2026", headers=world["ops"])).status_code == 204
    assert (await client.get("/v1/stats/public")).json()["rows"] == []
