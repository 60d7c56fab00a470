"""Contract registration: submitting, recording the number as issued, refusal, and the registration form."""

import io

from openpyxl import load_workbook

from tests.factories import create_deal, create_listing


async def test_a_signed_contract_is_submitted_and_registered_with_a_checked_number(client, market):
    uni = await market.organisation("university")
    firm = await market.organisation("enterprise", region="cn.chongqing")
    ops = (await market.operator()).headers
    draft = await create_deal(market, uni, firm)
    not_signed = await client.post(f"/v1/deals/{draft['id']}/registration/submit", json={}, headers=uni.headers)
    assert not_signed.status_code == 409 and not_signed.json()["code"] == "deal.not_signed"

    deal = await create_deal(market, uni, firm, sign=True)
    base = f"/v1/deals/{deal['id']}/registration"
    assert (await client.post(f"{base}/register", json={}, headers=uni.headers)).status_code == 403
    submitted = await client.post(f"{base}/submit", json={"seller_type": "institute"}, headers=uni.headers)
    assert submitted.json()["registration"]["state"] == "submitted" and submitted.json()["seller_type"] == "institute"

    record = {"number": "2026510107000123", "registered_on": "2026-04-02", "certified_income": "1000000.00"}
    for field, bad in (("body.number", {"number": "2026519999000123"}),
                       ("body.number", {"number": "2025510107000123"}),
                       ("body.certified_income", {"certified_income": "1200000.01"}),
                       ("body.registered_on", {"registered_on": "2026-03-01"})):
        refused = await client.post(f"{base}/register", json={**record, **bad}, headers=ops)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    registered = await client.post(f"{base}/register", json=record, headers=ops)
    assert registered.status_code == 200, registered.text
    assert registered.json()["registration"] == {
        "state": "registered", "number": "2026510107000123", "registered_on": "2026-04-02",
        "certified_income": "1000000.00", "refusal_reason": None}
    again = await client.post(f"{base}/refuse", json={"reason": "重复"}, headers=ops)
    assert again.status_code == 409 and again.json()["code"] == "registration.illegal_transition"

    other = await create_deal(market, uni, firm, sign=True)
    duplicate = await client.post(f"/v1/deals/{other['id']}/registration/register", json=record, headers=ops)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "registration.duplicate_number"


async def test_refused_registration_can_be_submitted_again(client, market):
    uni, firm = await market.organisation("university"), await market.organisation("enterprise")
    ops = (await market.operator()).headers
    deal = await create_deal(market, uni, firm, sign=True)
    base = f"/v1/deals/{deal['id']}/registration"
    await client.post(f"{base}/submit", json={}, headers=firm.headers)
    refused = await client.post(f"{base}/refuse", json={"reason": "合同内容不属于技术合同"}, headers=ops)
    assert refused.json()["registration"]["state"] == "refused"
    assert refused.json()["registration"]["refusal_reason"] == "合同内容不属于技术合同"
    again = await client.post(f"{base}/submit", json={}, headers=firm.headers)
    assert again.json()["registration"]["state"] == "submitted"


async def test_the_registration_form_is_prefilled_and_lists_what_is_missing(client, market):
    uni = await market.organisation("university", region="cd.wuhou")
    firm = await market.organisation("enterprise", region="cn.shenzhen", name="=HYPERLINK(\"http://x\")科技")
    broker = await market.broker()
    achievement = await create_listing(market, "achievements", uni, external_id=None)
    deal = await create_deal(market, uni, firm, term_end=None, achievement_id=achievement["id"],
                             broker_id=broker.user_id)
    form = await client.get(f"/v1/deals/{deal['id']}/registration-form", headers=uni.headers)
    assert form.status_code == 200, form.text
    data = form.json()
    assert data["seller"]["area_code"] == "5101" and data["seller"]["area_name"] == "成都市"
    assert data["buyer"]["area_code"] == "4403" and data["seller_type_label"] == "高校"
    assert data["contract_type_label"] == "技术许可" and data["field_name"]
    assert data["achievement_title"] == achievement["title"] and data["broker_name"]
    assert data["missing"] == ["term_end"]

    xlsx = await client.get(f"/v1/deals/{deal['id']}/registration-form", params={"format": "xlsx"},
                            headers=uni.headers)
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert cells["合同成交额（元）"].value == 1200000 and cells["合同成交额（元）"].data_type == "n"
    assert cells["买方名称"].value.startswith("=HYPERLINK") and cells["买方名称"].data_type == "s"
    assert cells["买方所在地区代码"].value == "4403" and cells["待补充"].value == "有效期止"
    stranger = await market.organisation("enterprise")
    assert (await client.get(f"/v1/deals/{deal['id']}/registration-form",
                             headers=stranger.headers)).status_code == 404
