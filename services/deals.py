"""Deals (技术合同): create (by hand or from a lead), amend, and move through their lifecycle.

draft → signed → performing → completed, or → terminated (with a reason) from any open state.
Who reads a deal: both parties, the attributed broker, operators (anyone else gets a 404).
Who writes: while a draft, the parties' members (and their write API keys), the attributed broker and
operators; once signed, amendments are for the parties' members and operators only, and each is
audited as `deal.amended` with before and after values. Completed and terminated deals are closed.
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from schemas.deals import Commission, Deal, DealCreate, DealObligation, DealRead, RegistrationRead
from schemas.enums import CONTRACT_TYPE_LABELS, DealStatus, ObligationKind, OrgKind, Role, SellerType
from schemas.enums import DealStatus as S
from schemas.tables import Achievement, Lead, Need, Organisation, User
from services import audit, outbox
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.introductions import introducing_broker
from services.principal import Principal
from services.taxonomy import taxonomy

CHINA = ZoneInfo("Asia/Shanghai")  # contract dates are Chinese calendar days


def local_date(now: datetime) -> date:
    return now.astimezone(CHINA).date()


class Action(StrEnum):
    sign = "sign"
    start = "start"
    complete = "complete"
    terminate = "terminate"


# action -> (statuses it applies to, resulting status)
TRANSITIONS: dict[Action, tuple[frozenset[S], S]] = {
    Action.sign: (frozenset({S.draft}), S.signed),
    Action.start: (frozenset({S.signed}), S.performing),
    Action.complete: (frozenset({S.signed, S.performing}), S.completed),
    Action.terminate: (frozenset({S.draft, S.signed, S.performing}), S.terminated),
}
TOPICS = {Action.sign: "deal.signed", Action.start: "deal.started", Action.complete: "deal.completed",
          Action.terminate: "deal.terminated"}
EDITABLE = frozenset({S.draft, S.signed, S.performing})


def next_status(current: S | str, action: Action) -> S:
    allowed_from, to = TRANSITIONS[action]
    if S(current) not in allowed_from:
        raise Conflict(f"cannot {action.value} a deal that is {S(current).value}",
                       code="deal.illegal_transition", field="status")
    return to


def seller_type_of(org_kind: str) -> SellerType:
    """The registration's seller split, from the organisation's kind (agencies and the platform: 其他)."""
    return {OrgKind.university: SellerType.university, OrgKind.institute: SellerType.institute,
            OrgKind.enterprise: SellerType.enterprise}.get(org_kind, SellerType.other)


# --- who reads and writes ---------------------------------------------------------------------------------

Seller, Buyer = aliased(Organisation), aliased(Organisation)


def visible(principal: Principal, stmt: Select) -> Select:
    """The deals a caller may see, as a filter on any statement over `Deal`."""
    if principal.is_operator:
        return stmt
    conditions = []
    if principal.organisation_id is not None:
        conditions += [Deal.seller_id == principal.organisation_id, Deal.buyer_id == principal.organisation_id]
    if principal.is_broker and principal.user_id is not None:
        conditions.append(Deal.broker_id == principal.user_id)
    return stmt.where(or_(*conditions)) if conditions else stmt.where(False)


def readable(principal: Principal) -> Select:
    """One statement for list and get: the deal with both parties' names."""
    return visible(principal, select(Deal, Seller.name, Buyer.name)
                   .join(Seller, Seller.id == Deal.seller_id).join(Buyer, Buyer.id == Deal.buyer_id))


def is_party_writer(principal: Principal, deal: Deal) -> bool:
    return principal.can_write_listings and principal.organisation_id in (deal.seller_id, deal.buyer_id)


def require_writer(principal: Principal, deal: Deal) -> None:
    """Parties' members and operators always; the attributed broker only while the deal is a draft."""
    if principal.is_operator or is_party_writer(principal, deal):
        return
    if deal.status == S.draft and principal.user_id is not None and deal.broker_id == principal.user_id:
        return
    raise Forbidden("this needs write access for one of the parties (or the broker, on a draft)",
                    code="deal.write_forbidden")


async def get_row(session: AsyncSession, principal: Principal, deal_id: uuid.UUID,
                  lock: bool = False) -> tuple[Deal, str, str]:
    stmt = readable(principal).where(Deal.id == deal_id)
    row = (await session.execute(stmt.with_for_update(of=Deal) if lock else stmt)).first()
    if row is None:
        raise NotFound("deal not found", code="deal.not_found")
    return row[0], row[1], row[2]


# --- reading --------------------------------------------------------------------------------------------

def commission_read(deal: Deal) -> Commission | None:
    if deal.commission_rate is None and deal.commission_amount is None:
        return None
    return Commission(rate=deal.commission_rate, amount=deal.commission_amount, status=deal.commission_status)


def deal_read(deal: Deal, seller_name: str, buyer_name: str) -> DealRead:
    return DealRead(
        id=deal.id, status=deal.status, contract_type=deal.contract_type,
        contract_type_label=CONTRACT_TYPE_LABELS[deal.contract_type], seller_id=deal.seller_id,
        seller_name=seller_name, buyer_id=deal.buyer_id, buyer_name=buyer_name, lead_id=deal.lead_id,
        achievement_id=deal.achievement_id, need_id=deal.need_id, title=deal.title, field=deal.field,
        seller_type=deal.seller_type, signed_on=deal.signed_on, term_start=deal.term_start, term_end=deal.term_end,
        amount=deal.amount, technology_amount=deal.technology_amount, currency=deal.currency, ip=deal.ip,
        broker_id=deal.broker_id, commission=commission_read(deal), termination_reason=deal.termination_reason,
        registration=RegistrationRead(state=deal.registration_state, number=deal.registration_number,
                                      registered_on=deal.registered_on, certified_income=deal.certified_income,
                                      refusal_reason=deal.registration_refusal),
        created_at=deal.created_at, updated_at=deal.updated_at,
    )


async def get(session: AsyncSession, principal: Principal, deal_id: uuid.UUID) -> DealRead:
    return deal_read(*await get_row(session, principal, deal_id))


async def list_deals(session: AsyncSession, principal: Principal, *, status: DealStatus | None,
                     organisation_id: uuid.UUID | None, broker_id: uuid.UUID | None, limit: int,
                     after: list | None) -> list:
    stmt = readable(principal)
    if status is not None:
        stmt = stmt.where(Deal.status == status)
    if organisation_id is not None:
        stmt = stmt.where(or_(Deal.seller_id == organisation_id, Deal.buyer_id == organisation_id))
    if broker_id is not None:
        stmt = stmt.where(Deal.broker_id == broker_id)
    if after is not None:
        created_at, last_id = after
        stmt = stmt.where(or_(Deal.created_at < created_at, (Deal.created_at == created_at) & (Deal.id < last_id)))
    return list((await session.execute(stmt.order_by(Deal.created_at.desc(), Deal.id.desc()).limit(limit + 1))).all())


# --- writing --------------------------------------------------------------------------------------------

def _columns(body) -> dict[str, Any]:
    """The columns a DealCreate/DealUpdate sets; only the fields the client sent."""
    data = body.model_dump(exclude_unset=True, exclude={"ip", "commission"})
    sent = body.model_fields_set
    if "ip" in sent:
        data["ip"] = [r.model_dump(mode="json", exclude_none=True) for r in body.ip or []]
    if "commission" in sent:
        c = body.commission
        data.update(commission_rate=c.rate if c else None, commission_amount=c.amount if c else None,
                    commission_status=c.status.value if c else None)
    return data


def _values(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in (
        "status", "contract_type", "seller_id", "buyer_id", "lead_id", "achievement_id", "need_id", "title", "field",
        "seller_type", "signed_on", "term_start", "term_end", "amount", "technology_amount", "ip", "broker_id",
        "commission_rate", "commission_amount", "commission_status", "termination_reason")}


async def _check_references(session: AsyncSession, values: dict[str, Any]) -> None:
    for name, table in (("lead_id", Lead), ("achievement_id", Achievement), ("need_id", Need)):
        if values.get(name) is not None and await session.get(table, values[name]) is None:
            raise Invalid(f"{name.removesuffix('_id')} not found", code="deal.unknown_reference", field=f"body.{name}")
    if values.get("broker_id") is not None:
        broker = await session.get(User, values["broker_id"])
        if broker is None or not broker.active or Role.broker not in broker.roles:
            raise Invalid("the attributed broker must be an active user with the broker role",
                          code="deal.not_a_broker", field="body.broker_id")
    if values.get("field") is not None:
        taxonomy().check_field(values["field"], "body.field")


async def fixed_total(session: AsyncSession, deal_id: uuid.UUID, excluding: uuid.UUID | None = None) -> Decimal:
    """What the deal's fixed-amount obligations add up to (royalties are a rule, not a fixed amount)."""
    stmt = select(func.coalesce(func.sum(DealObligation.amount), 0)).where(
        DealObligation.deal_id == deal_id, DealObligation.kind != ObligationKind.royalty)
    if excluding is not None:
        stmt = stmt.where(DealObligation.id != excluding)
    return Decimal(await session.scalar(stmt))


def _check_row(deal: Deal) -> None:
    """Rules on the merged row (a PATCH may send one side of a pair)."""
    if deal.technology_amount > deal.amount:
        raise Invalid("technology_amount (技术交易额) exceeds amount (成交额)", code="deal.technology_amount_exceeds",
                      field="body.technology_amount")
    if deal.term_start and deal.term_end and deal.term_end < deal.term_start:
        raise Invalid("term_end is before term_start", code="deal.invalid_term", field="body.term_end")
    if deal.status != S.draft and deal.signed_on is None:
        raise Invalid("a signed contract keeps its signing date", code="deal.signed_on_required",
                      field="body.signed_on")


async def create(session: AsyncSession, principal: Principal, body) -> Deal:
    """A deal in draft. The caller is one of the parties, the broker it attributes, or an operator."""
    values = _columns(body)
    if body.seller_id == body.buyer_id:
        raise Invalid("seller and buyer are different organisations", code="deal.same_party", field="body.buyer_id")
    parties = {}
    for name in ("seller_id", "buyer_id"):
        parties[name] = await session.get(Organisation, values[name])
        if parties[name] is None:
            raise Invalid("organisation not found", code="deal.unknown_organisation", field=f"body.{name}")
    if principal.is_broker and not principal.is_operator and principal.organisation_id not in values.values():
        values["broker_id"] = values.get("broker_id") or principal.user_id
        if values["broker_id"] != principal.user_id:
            raise Forbidden("a broker attributes deals to themselves", code="deal.write_forbidden",
                            field="body.broker_id")
    elif not principal.is_operator and not (principal.can_write_listings and principal.organisation_id in (
            body.seller_id, body.buyer_id)):
        raise Forbidden("the caller is not one of the parties", code="deal.not_a_party", field="body.seller_id")
    await _check_references(session, values)
    if values.get("field") is None:
        values["field"] = await _listing_field(session, values.get("achievement_id"), values.get("need_id"))
    values.setdefault("technology_amount", None)
    values["technology_amount"] = values["technology_amount"] if values["technology_amount"] is not None \
        else values["amount"]
    values["seller_type"] = values.get("seller_type") or seller_type_of(parties["seller_id"].kind)
    if values.get("commission_rate") is None and values.get("commission_amount") is None:
        values.pop("commission_status", None)
    deal = Deal(status=S.draft, created_by=principal.user_id, **values)
    _check_row(deal)
    session.add(deal)
    await session.flush()
    audit.record(session, principal, "deal.created", "deal", deal.id, audit.diff({}, _values(deal)))
    outbox.emit(session, "deal.created", "deal", deal.id)
    return deal


async def _listing_field(session: AsyncSession, achievement_id, need_id) -> str | None:
    for table, listing_id in ((Achievement, achievement_id), (Need, need_id)):
        if listing_id is not None:
            listing = await session.get(table, listing_id)
            if listing is not None and listing.field in taxonomy().fields:
                return listing.field
    return None


async def attributed_broker(session: AsyncSession, lead: Lead) -> uuid.UUID | None:
    """The broker a deal from this lead is attributed to: the one of the lead's first introduction in the
    ledger (dated, consented: what protects a broker from being bypassed), else the broker working it."""
    return await introducing_broker(session, lead.id) or lead.claimed_by


async def create_from_lead(session: AsyncSession, principal: Principal, lead_id: uuid.UUID, body) -> Deal:
    """Pre-fills the parties (the achievement's owner sells, the need's owner buys), the listings, the field
    and the broker from the lead; the body brings what a lead cannot know."""
    lead = await session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead not found", code="lead.not_found")
    achievement = await session.get(Achievement, lead.achievement_id)
    need = await session.get(Need, lead.need_id)
    if not (principal.is_operator or principal.is_broker
            or principal.organisation_id in (achievement.organisation_id, need.organisation_id)):
        raise NotFound("lead not found", code="lead.not_found")  # as GET /v1/leads/{id} answers them
    if (principal.is_broker and not principal.is_operator and lead.claimed_by != principal.user_id
            and principal.organisation_id not in (achievement.organisation_id, need.organisation_id)):
        raise Forbidden("claim the lead before making a deal of it", code="lead.not_claimed")
    prefilled = DealCreate(
        contract_type=body.contract_type, seller_id=achievement.organisation_id, buyer_id=need.organisation_id,
        lead_id=lead.id, achievement_id=achievement.id, need_id=need.id, title=body.title or achievement.title,
        field=achievement.field if achievement.field in taxonomy().fields else None, ip=achievement.ip,
        **body.model_dump(exclude_unset=True, exclude={"contract_type", "title"}),
    )
    broker_id = await attributed_broker(session, lead)
    if broker_id is not None:
        prefilled.broker_id = broker_id  # assignment marks the field as sent
    return await create(session, principal, prefilled)


async def update(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, body) -> Deal:
    deal, _, _ = await get_row(session, principal, deal_id, lock=True)
    require_writer(principal, deal)
    if deal.status not in EDITABLE:
        raise Conflict(f"a {deal.status} deal cannot be changed", code="deal.not_editable", field="status")
    values = _columns(body)
    await _check_references(session, values)
    before = _values(deal)
    for key, value in values.items():
        setattr(deal, key, value)
    if deal.commission_rate is None and deal.commission_amount is None:
        deal.commission_status = None
    _check_row(deal)
    if "amount" in values and await fixed_total(session, deal.id) > deal.amount:
        raise Invalid("the fixed obligations already add up to more than this amount",
                      code="deal.amount_below_schedule", field="body.amount")
    changes = audit.diff(before, _values(deal))
    if changes:
        deal.updated_at = datetime.now(UTC)
        action = "deal.updated" if deal.status == S.draft else "deal.amended"
        audit.record(session, principal, action, "deal", deal.id, changes)
        outbox.emit(session, action, "deal", deal.id, {"fields": sorted(changes)})
    return deal


async def transition(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, action: Action,
                     reason: str | None = None, today: date | None = None) -> Deal:
    deal, _, _ = await get_row(session, principal, deal_id, lock=True)
    if not (principal.is_operator or is_party_writer(principal, deal)):
        raise Forbidden("the parties and operators move a contract through its lifecycle",
                        code="deal.write_forbidden")
    before = _values(deal)
    deal.status = next_status(deal.status, action)
    if action == Action.sign and deal.signed_on is None:
        deal.signed_on = today or local_date(datetime.now(UTC))
    if action == Action.terminate:
        deal.termination_reason = reason
    deal.updated_at = datetime.now(UTC)
    audit.record(session, principal, TOPICS[action], "deal", deal.id, audit.diff(before, _values(deal)))
    outbox.emit(session, TOPICS[action], "deal", deal.id, {"status": deal.status})
    return deal
