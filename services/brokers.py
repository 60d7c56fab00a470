"""Broker profiles (技术经纪人): who may see and change them, and the figures computed from the pipeline.

A profile's id is the broker's user id. The agency's admin and operators manage profiles; the broker
edits their own bio and pause state. Anyone reads active profiles, without contact data when anonymous.
"""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.brokers import (
    BrokerCreate,
    BrokerFigures,
    BrokerProfile,
    BrokerRating,
    BrokerRead,
    BrokerUpdate,
    LeadStageChange,
    RatingAverages,
)
from schemas.deals import COUNTED, Deal
from schemas.enums import LABELS, BrokerStatus, LeadStage, LeadStatus, OrgKind, Role
from schemas.tables import Lead, Organisation, User
from services import audit
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.principal import Principal
from services.taxonomy import taxonomy

OPEN_STAGES = (LeadStage.new, LeadStage.contacted, LeadStage.introduced, LeadStage.negotiating)
SELF_EDITABLE = frozenset({"bio", "status"})
YEAR = timedelta(days=365)


def manages(principal: Principal, organisation_id: uuid.UUID) -> bool:
    """Operators, and the admin of the broker's agency."""
    return principal.is_operator or (principal.kind == "user" and Role.org_admin in principal.roles
                                     and principal.organisation_id == organisation_id)


def readable(principal: Principal) -> Select:
    stmt = (select(BrokerProfile, User.display_name, User.email, Organisation.name)
            .join(User, User.id == BrokerProfile.id)
            .join(Organisation, Organisation.id == BrokerProfile.organisation_id))
    if principal.is_operator:
        return stmt
    own = [BrokerProfile.status == BrokerStatus.active]
    if principal.user_id is not None:
        own.append(BrokerProfile.id == principal.user_id)
        if Role.org_admin in principal.roles:
            own.append(BrokerProfile.organisation_id == principal.organisation_id)
    return stmt.where(or_(*own))


def _check_codes(specialties: list[str] | None, regions: list[str] | None) -> None:
    for i, code in enumerate(specialties or []):
        taxonomy().check_field(code, f"body.specialties.{i}")
    for i, code in enumerate(regions or []):
        taxonomy().check_region(code, f"body.regions.{i}")


async def create(session: AsyncSession, principal: Principal, body: BrokerCreate) -> BrokerProfile:
    user = await session.get(User, body.user_id)
    if user is None or not (principal.is_operator or user.organisation_id == principal.organisation_id):
        raise NotFound("user not found", code="user.not_found", field="body.user_id")
    if not manages(principal, user.organisation_id):
        raise Forbidden("the agency's admin or an operator creates broker profiles", code="broker.manage_forbidden")
    org = await session.get(Organisation, user.organisation_id)
    if Role.broker not in user.roles or org.kind not in (OrgKind.agency, OrgKind.operator):
        raise Invalid("a profile is for a user with the broker role in an agency", code="broker.not_a_broker",
                      field="body.user_id")
    _check_codes(body.specialties, body.regions)
    profile = BrokerProfile(id=user.id, organisation_id=user.organisation_id, **body.model_dump(exclude={"user_id"}))
    session.add(profile)
    await flush_or_conflict(session, {"broker_profile_pkey": lambda: Conflict(
        "this broker has a profile", code="broker.duplicate", field="body.user_id")})
    audit.record(session, principal, "broker.created", "broker", profile.id,
                 audit.diff({}, body.model_dump(exclude={"user_id"})))
    return profile


async def update(session: AsyncSession, principal: Principal, broker_id: uuid.UUID, body: BrokerUpdate) -> None:
    profile = await session.get(BrokerProfile, broker_id, with_for_update=True)
    if profile is None or not (profile.status == BrokerStatus.active or principal.user_id == broker_id
                               or manages(principal, profile.organisation_id)):
        raise NotFound("broker not found", code="broker.not_found")
    changes = body.model_dump(exclude_unset=True)
    if not manages(principal, profile.organisation_id):
        if principal.user_id != broker_id:
            raise Forbidden("the agency's admin or an operator manages this profile", code="broker.manage_forbidden")
        if set(changes) - SELF_EDITABLE:
            raise Forbidden("a broker edits only their bio and pause state", code="broker.self_edit_forbidden",
                            field=f"body.{sorted(set(changes) - SELF_EDITABLE)[0]}")
    _check_codes(changes.get("specialties"), changes.get("regions"))
    before = {key: getattr(profile, key) for key in changes}
    for key, value in changes.items():
        setattr(profile, key, value)
    profile.updated_at = datetime.now(UTC)
    audit.record(session, principal, "broker.updated", "broker", profile.id, audit.diff(before, changes))


async def list_profiles(session: AsyncSession, principal: Principal, *, specialty: str | None, region: str | None,
                        limit: int, after: uuid.UUID | None):
    stmt = readable(principal)
    if specialty:
        stmt = stmt.where(BrokerProfile.specialties.contains([specialty]))
    if region:
        stmt = stmt.where(BrokerProfile.regions.contains([region]))
    if after:
        stmt = stmt.where(BrokerProfile.id > after)
    return (await session.execute(stmt.order_by(BrokerProfile.id).limit(limit + 1))).all()


async def get_row(session: AsyncSession, principal: Principal, broker_id: uuid.UUID):
    row = (await session.execute(readable(principal).where(BrokerProfile.id == broker_id))).first()
    if row is None:
        raise NotFound("broker not found", code="broker.not_found")
    return row


async def deal_turnover(session: AsyncSession, broker_id: uuid.UUID, since: datetime) -> Decimal:
    """Turnover (成交额) of the counted deals this broker is attributed, signed since `since`."""
    return Decimal(await session.scalar(select(func.coalesce(func.sum(Deal.amount), 0)).where(
        Deal.broker_id == broker_id, Deal.status.in_(COUNTED), Deal.signed_on >= since.date())))


async def open_leads(session: AsyncSession, broker_id: uuid.UUID) -> int:
    return await session.scalar(select(func.count()).select_from(Lead).where(
        Lead.claimed_by == broker_id, Lead.stage.in_(OPEN_STAGES), Lead.status == LeadStatus.active)) or 0


async def figures(session: AsyncSession, broker_id: uuid.UUID) -> BrokerFigures:
    since = datetime.now(UTC) - YEAR
    days = func.extract("epoch", LeadStageChange.at - Lead.claimed_at) / 86400
    outcome = (await session.execute(
        select(func.count().filter(LeadStageChange.to_stage == LeadStage.won),
               func.count().filter(LeadStageChange.to_stage == LeadStage.lost),
               func.percentile_cont(0.5).within_group(days).filter(LeadStageChange.to_stage == LeadStage.won))
        .select_from(LeadStageChange).join(Lead, Lead.id == LeadStageChange.lead_id)
        .where(Lead.claimed_by == broker_id, LeadStageChange.at >= since,
               LeadStageChange.to_stage.in_((LeadStage.won, LeadStage.lost))))).one()
    ratings = (await session.execute(
        select(func.count(), func.avg(BrokerRating.responsiveness), func.avg(BrokerRating.expertise),
               func.avg(BrokerRating.integrity)).where(BrokerRating.broker_id == broker_id))).one()
    average = [round(float(v), 2) if v is not None else None for v in ratings[1:]]
    return BrokerFigures(
        open_leads=await open_leads(session, broker_id), won_12m=outcome[0], lost_12m=outcome[1],
        turnover_12m=f"{await deal_turnover(session, broker_id, since):.2f}",
        median_days_to_won=round(float(outcome[2]), 1) if outcome[2] is not None else None,
        ratings=RatingAverages(count=ratings[0], responsiveness=average[0], expertise=average[1],
                               integrity=average[2]))


async def read(session: AsyncSession, principal: Principal, row) -> BrokerRead:
    profile, name, email, org_name = row
    return BrokerRead(
        id=profile.id, display_name=name, email=None if principal.is_anonymous else email,
        organisation_id=profile.organisation_id, organisation_name=org_name, level=profile.level,
        level_label=LABELS[profile.level], certificate_number=profile.certificate_number,
        specialties=profile.specialties, regions=profile.regions, capacity=profile.capacity, status=profile.status,
        bio=profile.bio, figures=await figures(session, profile.id))


def fits(profile: BrokerProfile, field: str, regions: set[str]) -> int:
    """How well a broker fits a lead: 2 for the need's exact field (1 for its top field), +1 for a region
    served (the need's or the achievement's)."""
    codes = set(profile.specialties)
    score = 0
    if field in codes:
        score = 2
    elif field in taxonomy().fields and taxonomy().top(field) in codes:
        score = 1
    return score + (1 if regions & set(profile.regions) else 0)
