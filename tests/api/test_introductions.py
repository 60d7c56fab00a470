"""The introduction ledger: append-only, hash-chained, readable by the parties; the consent gate of a
confidential firm."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import create_lead


async def _worked(market, confidential: bool):
    firm = await market.organisation("enterprise", name="保密的茶叶公司")
    uni = await market.organisation("university")
    broker = await market.broker()
    lead = await create_lead(market, firm, uni, confidential=confidential)
    assert (await market.client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)).status_code == 200
    return firm, uni, broker, lead


async def test_the_achievement_owner_sees_a_confidential_firm_only_after_consent_and_introduction(client, market,
                                                                                                 search):
    firm, uni, broker, lead = await _worked(market, confidential=True)
    path = f"/v1/leads/{lead['id']}"
    early = await client.post(f"{path}/introductions", headers=broker.headers, json={"note": "先电话介绍了需求"})
    assert early.status_code == 201 and early.json()["consent"] is None
    seen_by_uni = (await client.get(path, headers=uni.headers)).json()
    assert seen_by_uni["need"]["organisation_name"] == "某企业"
    ledger = (await client.get(f"{path}/introductions", headers=uni.headers)).json()
    assert ledger[0]["need_organisation"] == "某企业"
    assert (await client.get(f"/v1/needs/{lead['need']['id']}", headers=uni.headers)).json()[
        "organisation_name"] == "某企业"

    no_request = await client.post(f"{path}/consent", headers=firm.headers, json={})
    assert no_request.status_code == 404 and no_request.json()["code"] == "consent.not_requested"
    assert (await client.post(f"{path}/consent-request", headers=broker.headers)).status_code == 201
    assert (await client.post(f"{path}/consent", headers=uni.headers, json={})).status_code == 403
    granted = await client.post(f"{path}/consent", headers=firm.headers,
                                json={"method": "written", "note": "盖章同意书"})
    assert granted.status_code == 200 and granted.json()["granted_by"] == firm.user_id
    intro = await client.post(f"{path}/introductions", headers=broker.headers, json={"note": "现场见面"})
    assert intro.status_code == 201
    entry = intro.json()
    assert entry["need_organisation"] == "保密的茶叶公司" and entry["consent"]["method"] == "written"
    assert entry["consent"]["granted_by"] == firm.user_id and entry["seq"] == 3

    assert (await client.get(path, headers=uni.headers)).json()["need"]["organisation_name"] == "保密的茶叶公司"
    ledger = (await client.get(f"{path}/introductions", headers=uni.headers)).json()
    assert [e["kind"] for e in ledger] == ["introduction", "consent", "introduction"]
    assert [e["prev_hash"] for e in ledger[1:]] == [e["hash"] for e in ledger[:-1]]
    assert ledger[0]["prev_hash"] == "0" * 64
    firm_view = (await client.get(f"{path}/introductions", headers=firm.headers)).json()
    assert [e["hash"] for e in firm_view] == [e["hash"] for e in ledger]


async def test_a_non_confidential_need_needs_no_consent(client, market, search):
    _, uni, broker, lead = await _worked(market, confidential=False)
    refused = await client.post(f"/v1/leads/{lead['id']}/consent-request", headers=broker.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "consent.not_needed"
    entry = (await client.post(f"/v1/leads/{lead['id']}/introductions", headers=broker.headers, json={})).json()
    assert entry["need_organisation"] == "保密的茶叶公司"


async def test_the_ledger_is_append_only_and_verify_finds_an_edited_entry(client, market, search, ctx):
    _, uni, broker, lead = await _worked(market, confidential=False)
    path = f"/v1/leads/{lead['id']}/introductions"
    for note in ("第一次引荐", "第二次引荐"):
        assert (await client.post(path, headers=broker.headers, json={"note": note})).status_code == 201
    correction = await client.post(path, headers=broker.headers, json={"note": "日期应为12月2日", "corrects": 1})
    assert correction.status_code == 201 and correction.json()["kind"] == "correction"
    missing = await client.post(path, headers=broker.headers, json={"corrects": 99})
    assert missing.status_code == 404 and missing.json()["field"] == "body.corrects"
    verified = (await client.get(f"{path}/verify", headers=uni.headers)).json()
    assert verified == {"lead_id": lead["id"], "entries": 3, "valid": True, "broken_at": None}

    async with ctx.engine.connect() as conn:  # the service cannot, and the database refuses, to edit an entry
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE introduction SET note = 'x' WHERE seq = 2"))
    async with ctx.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM introduction"))
    async with ctx.engine.begin() as conn:  # someone with the owner's rights goes around the trigger
        await conn.execute(text("ALTER TABLE introduction DISABLE TRIGGER introduction_append_only"))
        await conn.execute(text("UPDATE introduction SET note = '第二次引荐（改）' WHERE lead_id = :lead AND seq = 2"),
                           {"lead": lead["id"]})
        await conn.execute(text("ALTER TABLE introduction ENABLE TRIGGER introduction_append_only"))
    broken = (await client.get(f"{path}/verify", headers=broker.headers)).json()
    assert broken["valid"] is False and broken["broken_at"] == 2


async def test_only_the_parties_the_broker_and_operators_read_the_ledger(client, market, search):
    firm, uni, broker, lead = await _worked(market, confidential=False)
    await client.post(f"/v1/leads/{lead['id']}/introductions", headers=broker.headers, json={})
    path = f"/v1/leads/{lead['id']}/introductions"
    for caller in (firm, uni, broker, await market.operator()):
        assert len((await client.get(path, headers=caller.headers)).json()) == 1
    assert (await client.get(path, headers=(await market.organisation("university")).headers)).status_code == 404
    assert (await client.get(path, headers=(await market.broker()).headers)).status_code == 404
    rival = await market.broker()
    assert (await client.post(path, headers=rival.headers, json={})).status_code == 403
