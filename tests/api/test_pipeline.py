"""The lead pipeline through the API: stages, the claim race, capacity, release and reassignment,
routing by the worker, activities and the broker's to-do lists."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from schemas.brokers import LeadStageChange
from schemas.outcomes import LeadOutcomeRow
from services.pipeline import tick_lead_routing
from tests.factories import create_lead


async def _claimed(market, broker, **need):
    lead = await create_lead(market, **need)
    claimed = await market.client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
    assert claimed.status_code == 200, claimed.text
    return lead


async def test_a_lead_moves_through_every_stage_and_each_move_is_recorded(client, market, search, ctx):
    broker = await market.broker()
    lead = await _claimed(market, broker)
    path = f"/v1/leads/{lead['id']}/stage"
    skipped = await client.post(path, headers=broker.headers, json={"stage": "won"})
    assert skipped.status_code == 409 and skipped.json()["code"] == "lead.illegal_transition"
    for stage in ("contacted", "introduced", "negotiating", "won"):
        moved = await client.post(path, headers=broker.headers, json={"stage": stage})
        assert moved.status_code == 200 and moved.json()["stage"] == stage and moved.json()["stage_changed_at"]
    after_won = await client.post(path, headers=broker.headers, json={"stage": "lost", "reason": "price"})
    assert after_won.status_code == 409 and after_won.json()["code"] == "lead.illegal_transition"
    history = (await client.get(f"/v1/leads/{lead['id']}/stages", headers=broker.headers)).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        ("new", "contacted"), ("contacted", "introduced"), ("introduced", "negotiating"), ("negotiating", "won")]
    assert all(h["by"] == broker.user_id for h in history)
    async with ctx.sessions() as session:
        rows = (await session.scalars(select(LeadStageChange.to_stage).where(
            LeadStageChange.lead_id == lead["id"]))).all()
        outcomes = (await session.scalars(select(LeadOutcomeRow.outcome).where(
            LeadOutcomeRow.lead_id == lead["id"]))).all()
    assert rows[-1] == "won"
    assert outcomes == ["won"]  # the won pair is a labelled pair the matching engine learns from

    log = (await client.get("/v1/audit", headers=(await market.operator()).headers,
                            params={"object_type": "lead", "object_id": lead["id"]})).json()["items"]
    assert sum(e["action"] == "lead.stage_changed" for e in log) == 4


async def test_a_lost_lead_is_recorded_as_an_outcome_with_its_reason(client, market, search, ctx):
    broker = await market.broker()
    lead = await _claimed(market, broker)
    path = f"/v1/leads/{lead['id']}/stage"
    await client.post(path, headers=broker.headers, json={"stage": "contacted"})
    lost = await client.post(path, headers=broker.headers, json={"stage": "lost", "reason": "price",
                                                                 "note": "报价高出预算一倍"})
    assert lost.status_code == 200, lost.text
    async with ctx.sessions() as session:
        outcome = (await session.execute(select(LeadOutcomeRow.outcome, LeadOutcomeRow.reason).where(
            LeadOutcomeRow.lead_id == lead["id"]))).one()
    assert tuple(outcome) == ("lost", "price 报价高出预算一倍")


async def test_lost_needs_a_reason_from_the_list(client, market, search):
    broker = await market.broker()
    lead = await _claimed(market, broker)
    path = f"/v1/leads/{lead['id']}/stage"
    for refused in ({"stage": "lost"}, {"stage": "lost", "reason": "bored"}, {"stage": "lost", "reason": "other"},
                    {"stage": "contacted", "reason": "price"}):
        assert (await client.post(path, headers=broker.headers, json=refused)).status_code == 422, refused
    lost = await client.post(path, headers=broker.headers,
                             json={"stage": "lost", "reason": "other", "note": "企业转产"})
    assert lost.status_code == 200 and lost.json()["stage"] == "lost"
    history = (await client.get(f"/v1/leads/{lead['id']}/stages", headers=broker.headers)).json()
    assert history[-1]["reason"] == "other" and history[-1]["note"] == "企业转产"


async def test_only_the_working_broker_moves_a_lead(client, market, search):
    broker, rival = await market.broker(), await market.broker()
    lead = await create_lead(market)
    unclaimed = await client.post(f"/v1/leads/{lead['id']}/stage", headers=broker.headers, json={"stage": "contacted"})
    assert unclaimed.status_code == 403
    await client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
    stolen = await client.post(f"/v1/leads/{lead['id']}/stage", headers=rival.headers, json={"stage": "contacted"})
    assert stolen.status_code == 403 and stolen.json()["code"] == "lead.not_your_lead"


@pytest.mark.commits  # requests at once
async def test_two_brokers_claim_the_same_lead_at_once_and_exactly_one_wins(app, market, search):
    brokers = [await market.broker(), await market.broker()]
    lead = await create_lead(market)
    transport = httpx.ASGITransport(app=app)
    async with (httpx.AsyncClient(transport=transport, base_url="http://test") as first,
                httpx.AsyncClient(transport=transport, base_url="http://test") as second):
        for _ in range(3):  # a few rounds: the race is real, each round on a fresh lead
            responses = await asyncio.gather(*(
                http.post(f"/v1/leads/{lead['id']}/claim", headers=b.headers)
                for http, b in ((first, brokers[0]), (second, brokers[1]))))
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409], [r.text for r in responses]
            loser = next(r for r in responses if r.status_code == 409)
            assert loser.json()["code"] == "lead.already_claimed"
            winner = next(b for b, r in zip(brokers, responses, strict=True) if r.status_code == 200)
            assert (await market.client.get(f"/v1/leads/{lead['id']}", headers=winner.headers)).json()[
                "claimed_by"] == winner.user_id
            lead = await create_lead(market)


@pytest.mark.commits  # requests at once
async def test_capacity_is_enforced_at_claim_time_even_at_once(app, client, market, search):
    broker = await market.broker(capacity=1)
    leads = [await create_lead(market), await create_lead(market)]
    responses = await asyncio.gather(*(client.post(f"/v1/leads/{lead['id']}/claim", headers=broker.headers)
                                       for lead in leads))
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "broker.at_capacity"
    await client.patch(f"/v1/brokers/{broker.user_id}", headers=broker.headers, json={"status": "paused"})
    third = await create_lead(market)
    paused = await client.post(f"/v1/leads/{third['id']}/claim", headers=broker.headers)
    assert paused.status_code == 409 and paused.json()["code"] == "broker.paused"


async def test_release_puts_a_lead_back_in_the_pool_and_an_operator_reassigns_it(client, market, search):
    broker, other = await market.broker(), await market.broker()
    lead = await _claimed(market, broker)
    pool = (await client.get("/v1/leads/pool", headers=other.headers)).json()["items"]
    assert lead["id"] not in [item["id"] for item in pool]
    released = await client.post(f"/v1/leads/{lead['id']}/release", headers=broker.headers)
    assert released.status_code == 200 and released.json()["claimed_by"] is None
    pool = (await client.get("/v1/leads/pool", headers=other.headers)).json()["items"]
    assert lead["id"] in [item["id"] for item in pool]
    operator = await market.operator()
    assigned = await client.post(f"/v1/leads/{lead['id']}/assign", headers=operator.headers,
                                 json={"broker_id": other.user_id})
    assert assigned.status_code == 200 and assigned.json()["claimed_by"] == other.user_id
    full = await market.broker(capacity=0)
    refused = await client.post(f"/v1/leads/{lead['id']}/assign", headers=operator.headers,
                                json={"broker_id": full.user_id})
    assert refused.status_code == 409 and refused.json()["code"] == "broker.at_capacity"


async def test_routing_offers_a_strong_lead_to_the_best_fitting_broker_with_spare_capacity(client, market, search, ctx,
                                                                                         monkeypatch):
    monkeypatch.setattr(ctx.settings, "lead_routing_min_score", 0.0)  # the manual leads score what they score
    farmer = await market.broker(specialties=["modern_agriculture.smart_agriculture"], regions=["cd.pujiang"],
                                 capacity=1)
    generalist = await market.broker(specialties=["modern_agriculture"])
    await market.broker(specialties=["biomedicine"])  # no fit: never offered
    leads = [await create_lead(market), await create_lead(market), await create_lead(market, field="biomedicine")]
    await tick_lead_routing(ctx, datetime.now(UTC))
    owners = [(await client.get(f"/v1/leads/{lead['id']}", headers=farmer.headers)).json()["claimed_by"]
              for lead in leads]
    assert sorted(owners[:2]) == sorted([farmer.user_id, generalist.user_id])  # the farmer is full after one
    assert owners[2] is not None  # the biomedicine broker fits the third
    log = (await client.get("/v1/audit", headers=(await market.operator()).headers,
                            params={"object_type": "lead", "object_id": leads[0]["id"]})).json()["items"]
    assert any(e["action"] == "lead.assigned" and e["actor_type"] == "system" for e in log)


async def test_routing_leaves_weak_leads_in_the_pool(client, market, search, ctx, monkeypatch):
    monkeypatch.setattr(ctx.settings, "lead_routing_min_score", 1.0)
    broker = await market.broker(specialties=["modern_agriculture"])
    lead = await create_lead(market)
    await tick_lead_routing(ctx, datetime.now(UTC))
    assert (await client.get(f"/v1/leads/{lead['id']}", headers=broker.headers)).json()["claimed_by"] is None
    assert lead["id"] in [i["id"] for i in (await client.get("/v1/leads/pool", headers=broker.headers)).json()["items"]]


async def test_activities_overdue_follow_ups_and_idle_leads(client, market, search):
    broker = await market.broker()
    due, fresh, quiet = (await _claimed(market, broker), await _claimed(market, broker), await _claimed(market, broker))
    yesterday, next_week = date.today() - timedelta(days=1), date.today() + timedelta(days=7)
    long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    for lead, body in ((due, {"kind": "call", "text": "约好回电", "follow_up_on": yesterday.isoformat()}),
                       (fresh, {"kind": "meeting", "text": "见面", "follow_up_on": next_week.isoformat()}),
                       (quiet, {"kind": "site_visit", "text": "看了茶园", "at": long_ago})):
        created = await client.post(f"/v1/leads/{lead['id']}/activities", headers=broker.headers, json=body)
        assert created.status_code == 201 and created.json()["author_id"] == broker.user_id
    overdue = (await client.get("/v1/leads/follow-ups", headers=broker.headers)).json()
    assert [(t["lead"]["id"], t["follow_up_on"]) for t in overdue] == [(due["id"], yesterday.isoformat())]
    idle = (await client.get("/v1/leads/idle", headers=broker.headers, params={"days": 14})).json()
    assert [t["lead"]["id"] for t in idle] == [quiet["id"]]
    notes = (await client.get(f"/v1/leads/{quiet['id']}/activities", headers=broker.headers)).json()
    assert [n["kind"] for n in notes] == ["site_visit"]
    other = await market.broker()
    assert (await client.post(f"/v1/leads/{due['id']}/activities", headers=other.headers,
                              json={"kind": "note", "text": "x"})).status_code == 403


async def test_a_retired_lead_keeps_its_history_and_says_why(client, market, search):
    firm = await market.organisation("enterprise")
    broker = await market.broker()
    lead = await _claimed(market, broker, firm=firm)
    await client.post(f"/v1/leads/{lead['id']}/activities", headers=broker.headers,
                      json={"kind": "call", "text": "通话"})
    await client.post(f"/v1/needs/{lead['need']['id']}/archive", headers=firm.headers)
    import uuid

    from schemas.enums import ListKind
    from services.matching.refresh import retire  # what the worker does when the need leaves the list

    async with market.ctx.sessions() as session, session.begin():
        await retire(session, ListKind.needs, uuid.UUID(lead["need"]["id"]))
    seen = (await client.get(f"/v1/leads/{lead['id']}", headers=broker.headers)).json()
    assert seen["status"] == "retired" and seen["retired_reason"] == "need.archived"
    assert len((await client.get(f"/v1/leads/{lead['id']}/activities", headers=broker.headers)).json()) == 1
