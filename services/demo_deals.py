"""Demo deals for `make run`: two years of contracts with their schedules, generated from seed/demo/deals.yaml.

A seeded random generator driven by the file's parameters: the same contracts on every run, with ids
derived from the seed (uuid5), so loading twice changes nothing. The clock (`tick_obligations`) then
moves the schedule to due and overdue as of the load date.
"""

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import yaml
from sqlalchemy import select

from schemas.deals import Deal, DealObligation
from schemas.enums import DealStatus, ObligationStatus, RegistrationState, Role
from schemas.tables import Organisation, User
from services.deals import local_date, seller_type_of
from services.identity.passwords import hash_password
from services.obligations import tick_obligations
from services.taxonomy import SEED

DEMO_BROKER_PASSWORD = "demo-broker-password"  # documented in the README; demo data only


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _money(value: float) -> Decimal:
    return Decimal(int(value / 100) * 100).quantize(Decimal("0.01"))


async def _brokers(session, params, orgs: dict[str, Organisation]) -> list[uuid.UUID]:
    ids = []
    for entry in params["brokers"]:
        user = await session.scalar(select(User).where(User.email == entry["email"]))
        if user is None:
            user = User(organisation_id=orgs[entry["org"]].id, email=entry["email"], display_name=entry["name"],
                        password_hash=await hash_password(DEMO_BROKER_PASSWORD), roles=[Role.broker.value])
            session.add(user)
            await session.flush()
        ids.append(user.id)
    return ids


def generate(params: dict, orgs: dict[str, Organisation], brokers: list[uuid.UUID], today: date):
    """The deals and their obligations, as rows (pure: the same parameters give the same rows)."""
    rng = random.Random(params["seed"])
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"kechuangtong-demo-deals/{params['seed']}")
    low, high = math.log(params["amount"]["min"]), math.log(params["amount"]["max"])
    deals, obligations, n = [], [], 0
    for year in params["years"]:
        for _ in range(params["per_year"][year]):
            n += 1
            seller = orgs[rng.choice(params["sellers"])]
            buyer = orgs[rng.choice([b for b in params["buyers"] if orgs[b].id != seller.id])]
            signed = date(year, 1, 1) + timedelta(days=rng.randrange(334))
            amount = _money(math.exp(rng.uniform(low, high)))
            share = rng.uniform(params["technology_share"]["min"], params["technology_share"]["max"])
            technology = _money(float(amount) * share)
            registered = signed + timedelta(days=rng.randrange(10, 60))
            is_registered = rng.random() < params["registered_share"] and registered <= today
            terminated = rng.random() < params["terminated_share"]
            deal = Deal(
                id=uuid.uuid5(namespace, f"deal/{n}"), contract_type=_weighted(rng, params["contract_types"]),
                status=DealStatus.terminated if terminated else (
                    DealStatus.completed if signed + timedelta(days=365) < today else DealStatus.performing),
                termination_reason="双方协商解除" if terminated else None,
                seller_id=seller.id, buyer_id=buyer.id, title=f"{seller.name}—{buyer.name} 技术合同 {year}-{n:03d}",
                field=rng.choice(params["fields"]), seller_type=seller_type_of(seller.kind), signed_on=signed,
                term_start=signed, term_end=signed + timedelta(days=730), amount=amount, technology_amount=technology,
                broker_id=rng.choice(brokers) if rng.random() < params["broker_share"] else None,
                registration_state=RegistrationState.registered if is_registered else RegistrationState.unregistered,
                registration_number=f"{registered.year}510107{n:06d}" if is_registered else None,
                registered_on=registered if is_registered else None,
                certified_income=technology if is_registered else None)
            if deal.broker_id:
                deal.commission_rate, deal.commission_status = Decimal("0.0300"), "agreed"
            deals.append(deal)
            for k, entry in enumerate(params["schedule"]):
                due = signed + timedelta(days=entry["days"])
                status = ObligationStatus.pending
                if due < today and not terminated:
                    status = ObligationStatus.paid if rng.random() < params["paid_share"] else status
                if (n + k) % params["waived_every"] == 0:
                    status = ObligationStatus.waived
                obligations.append(DealObligation(
                    id=uuid.uuid5(namespace, f"obligation/{n}/{k}"), deal_id=deal.id, kind=entry["kind"],
                    title=entry["title"], deliverable=entry.get("deliverable"), due_on=due,
                    amount=(amount * Decimal(str(entry["share"]))).quantize(Decimal("0.01")), status=status,
                    paid_on=due if status == ObligationStatus.paid else None,
                    note="合同变更，免除该笔款项" if status == ObligationStatus.waived else None))
    # A few open entries of running contracts fall due within the notice period of the load date.
    running = {d.id for d in deals if d.status == DealStatus.performing}
    open_entries = [o for o in obligations if o.deal_id in running and o.status == ObligationStatus.pending]
    for k, entry in enumerate(open_entries[: params["due_soon"]]):
        entry.due_on = today + timedelta(days=1 + k)
    return deals, obligations


async def load_deals(ctx, orgs: dict[str, Organisation]) -> int:
    params = yaml.safe_load((SEED / "demo" / "deals.yaml").read_text(encoding="utf-8"))
    now = datetime.now(UTC)
    async with ctx.sessions() as session, session.begin():
        brokers = await _brokers(session, params, orgs)
        deals, obligations = generate(params, orgs, brokers, local_date(now))
        known = set((await session.scalars(select(Deal.id).where(Deal.id.in_([d.id for d in deals])))).all())
        fresh = [d for d in deals if d.id not in known]
        session.add_all(fresh)
        await session.flush()
        session.add_all([o for o in obligations if o.deal_id in {d.id for d in fresh}])
    # Completed and terminated deals' schedules do not run; the signed ones' do, as of today.
    await tick_obligations(ctx, now)
    return len(deals)
