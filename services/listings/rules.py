"""The rules of the two lists: who sees a listing and its contact, who may write it, which codes and
dates make it valid."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LeadStatus, ListingStatus, Stage
from schemas.listings import STAGE_TRL
from schemas.tables import Achievement, Lead, Organisation
from services.errors import Forbidden, Invalid, NotFound
from services.principal import Principal
from services.reveal import firm_revealed
from services.taxonomy import taxonomy

if TYPE_CHECKING:
    from services.listings.spec import ListingSpec


def is_insider(row, principal: Principal) -> bool:
    """The owner and operators see contact details and a confidential firm's identity (and so do those
    who see it through a lead: see `ListingSpec.seen_through_lead`)."""
    return principal.is_operator or principal.organisation_id == row.organisation_id


async def lead_worked_by(session: AsyncSession, principal: Principal, achievement_id: uuid.UUID) -> uuid.UUID | None:
    """The active lead on this achievement that the calling broker works: through it, the broker sees the
    achievement's contact."""
    if not principal.is_broker:
        return None
    return await session.scalar(select(Lead.id).where(
        Lead.achievement_id == achievement_id, Lead.claimed_by == principal.user_id,
        Lead.status == LeadStatus.active).limit(1))


async def lead_revealing(session: AsyncSession, principal: Principal, need_id: uuid.UUID) -> uuid.UUID | None:
    """An active lead on this need through which its firm shows itself to the caller, only as
    services.reveal says (the firm's consent)."""
    return await session.scalar(select(Lead.id).join(Achievement, Achievement.id == Lead.achievement_id).where(
        Lead.need_id == need_id, Lead.status == LeadStatus.active, firm_revealed(principal)).limit(1))


def consistent_maturity(row: Achievement) -> None:
    """The create model checks TRL against stage; a PATCH of one of them is checked on the merged row."""
    if row.trl is not None and row.stage is not None and row.trl not in STAGE_TRL[Stage(row.stage)]:
        raise Invalid(f"TRL {row.trl} does not fit the stage {row.stage}", code="achievement.inconsistent_maturity",
                      field="body.stage")


# "Already past" is judged by the date in China (UTC+8, no daylight saving), where the lists are used.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def need_dates_open(row, on: date) -> None:
    """A need whose deadline or bidding window has passed is not published (nor sent to review)."""
    if row.deadline is not None and row.deadline < on:
        raise Invalid(f"the deadline {row.deadline} has passed", code="need.deadline_passed", field="deadline")
    if row.challenge_closes is not None and row.challenge_closes < on:
        raise Invalid(f"the challenge closed on {row.challenge_closes}", code="need.challenge_closed",
                      field="challenge.closes")


def readable(spec: "ListingSpec", principal: Principal) -> Select:
    """The one statement that says which listings a caller may see (list and get both use it)."""
    table = spec.table
    stmt = select(table, Organisation.name).join(Organisation, Organisation.id == table.organisation_id)
    if principal.is_operator:
        return stmt
    published = table.status == ListingStatus.published
    if principal.organisation_id is not None:
        return stmt.where(or_(published, table.organisation_id == principal.organisation_id))
    return stmt.where(published)


def validate_codes(spec: "ListingSpec", values: dict[str, Any]) -> None:
    """Field and region codes, resolved in place from whatever name the client used (`現代農業`,
    `郫都區`, `天府新区`); an unknown one is a 422 with the closest candidates."""
    tax = taxonomy()
    if isinstance(values.get("field"), str):
        values["field"] = tax.check_field(values["field"], "body.field")
    if isinstance(values.get("secondary_fields"), list):
        values["secondary_fields"] = list(dict.fromkeys(
            tax.check_field(code, "body.secondary_fields") if isinstance(code, str) else code
            for code in values["secondary_fields"]))
    if isinstance(values.get("region"), str):
        values["region"] = tax.check_region(values["region"], "body.region")


async def get_row(session: AsyncSession, spec: "ListingSpec", principal: Principal, listing_id: uuid.UUID,
                  lock: bool = False):
    stmt = readable(spec, principal).where(spec.table.id == listing_id)
    if lock:
        stmt = stmt.with_for_update(of=spec.table)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"{spec.noun} {listing_id} not found", code=f"{spec.noun}.not_found")
    return row


def require_owner(spec: "ListingSpec", principal: Principal, row) -> None:
    if principal.is_operator:
        return
    if principal.organisation_id != row.organisation_id:
        raise NotFound(f"{spec.noun} {row.id} not found", code=f"{spec.noun}.not_found")
    if not principal.can_write_listings:
        raise Forbidden("this needs write access to the organisation's listings", code="auth.write_forbidden")
