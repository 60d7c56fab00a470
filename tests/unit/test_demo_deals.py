"""The demo deals are the same on every run and cover what `make run` should show."""

import uuid
from datetime import date

import yaml

from schemas.tables import Organisation
from services.demo_deals import generate
from services.taxonomy import SEED

PARAMS = yaml.safe_load((SEED / "demo" / "deals.yaml").read_text(encoding="utf-8"))
ORGS = {entry["key"]: Organisation(id=uuid.uuid5(uuid.NAMESPACE_DNS, entry["key"]), kind=entry["kind"],
                                   name=entry["name"], region=entry.get("region"))
        for entry in yaml.safe_load((SEED / "demo" / "organisations.yaml").read_text(encoding="utf-8"))}
BROKERS = [uuid.uuid5(uuid.NAMESPACE_DNS, b["key"]) for b in PARAMS["brokers"]]
TODAY = date(2026, 12, 3)


def _run():
    return generate(PARAMS, ORGS, BROKERS, TODAY)


def test_same_parameters_same_deals():
    first, second = _run(), _run()
    assert [(d.id, d.amount, d.signed_on, d.broker_id) for d in first[0]] == [
        (d.id, d.amount, d.signed_on, d.broker_id) for d in second[0]]


def test_two_years_across_types_seller_types_brokers_and_every_obligation_state_but_the_clocks():
    deals, obligations = _run()
    assert {d.signed_on.year for d in deals} == {2025, 2026}
    assert {d.contract_type for d in deals} == set(PARAMS["contract_types"])
    assert {d.seller_type for d in deals} >= {"university", "institute", "enterprise"}
    assert {d.broker_id for d in deals} >= set(BROKERS)
    assert {o.status for o in obligations} == {"pending", "paid", "waived"}  # due/overdue: the clock's job
    assert any(o.due_on > TODAY for o in obligations) and any(o.due_on < TODAY and o.status == "pending"
                                                              for o in obligations)
    for deal in deals:
        fixed = sum(o.amount for o in obligations if o.deal_id == deal.id)
        assert fixed <= deal.amount and deal.technology_amount <= deal.amount
