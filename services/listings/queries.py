"""Reading listings: one by id (with the lead through which a caller may see more) and keyset-paged
lists with their filters."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListingStatus
from services import audit
from services.errors import Invalid, Unauthenticated
from services.listings.rules import get_row, is_insider, readable
from services.listings.spec import ListingSpec
from services.pagination import after_key, decode_cursor, instant, page
from services.principal import Principal
from services.taxonomy import taxonomy


async def get(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID):
    row, org_name = await get_row(session, spec, principal, listing_id)
    lead_id = None if principal.is_anonymous else await spec.seen_through_lead(session, principal, listing_id)
    if lead_id is not None and spec.about.hides_owner and row.confidential and not is_insider(row, principal):
        audit.record_reveal(session, principal, row, lead_id)
    return spec.read(row, org_name, principal, lead_id is not None)


@dataclass(kw_only=True)
class ListingCriteria:
    """What both a list and a search filter on: field (with sub-fields), region, maturity, mode, amount."""

    field: str | None = None
    region: str | None = None
    trl_min: int | None = None
    trl_max: int | None = None
    mode: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None


@dataclass(kw_only=True)
class ListingFilters(ListingCriteria):
    status: ListingStatus | None = None
    organisation_id: uuid.UUID | None = None
    updated_since: datetime | None = None
    sort: str = "-updated_at"
    mine: bool = False
    revision: bool | None = None


SORTS = {"updated_at", "published_at", "created_at"}


async def list_page(session: AsyncSession, principal: Principal, spec: ListingSpec, filters: ListingFilters,
                    limit: int, cursor: str | None):
    table = spec.table
    stmt = readable(spec, principal)
    tax = taxonomy()
    if filters.field:
        filters.field = tax.check_field(filters.field, "query.field")
        matches = [table.field == filters.field, table.field.startswith(filters.field + ".")]
        if spec.about.secondary_fields:
            matches.append(getattr(table, spec.about.secondary_fields).contains([filters.field]))
        stmt = stmt.where(or_(*matches))
    if filters.region:
        filters.region = tax.check_region(filters.region, "query.region")
        stmt = stmt.where(table.region == filters.region)
    trl = getattr(table, spec.about.trl)
    if filters.trl_min is not None:
        stmt = stmt.where(trl >= filters.trl_min)
    if filters.trl_max is not None:
        stmt = stmt.where(trl <= filters.trl_max)
    if filters.mode:
        stmt = stmt.where(getattr(table, spec.about.modes).contains([filters.mode]))
    _, low, high = (getattr(table, name) for name in spec.about.amount_columns())
    if filters.amount_min is not None:  # ranges overlap: the listing's upper end reaches the wanted lower end
        stmt = stmt.where(or_(high.is_(None), high >= filters.amount_min))
    if filters.amount_max is not None:
        stmt = stmt.where(or_(low.is_(None), low <= filters.amount_max))
    if filters.status:
        stmt = stmt.where(table.status == filters.status)
    if filters.organisation_id:
        stmt = stmt.where(table.organisation_id == filters.organisation_id)
        if spec.about.hides_owner and not (principal.is_operator
                                                or principal.organisation_id == filters.organisation_id):
            stmt = stmt.where(table.confidential.is_(False))  # a filter must not reveal a confidential firm
    if filters.updated_since:
        stmt = stmt.where(table.updated_at >= filters.updated_since)
    if filters.mine:
        if principal.organisation_id is None:
            raise Unauthenticated("`mine` lists the caller's organisation's listings: sign in or send an API key")
        stmt = stmt.where(table.organisation_id == principal.organisation_id)
    if filters.revision is not None:
        if not principal.is_operator:  # whether an edit is pending is the owner's business
            stmt = stmt.where(table.organisation_id == principal.organisation_id)
        stmt = stmt.where(table.revision.is_not(None) if filters.revision else table.revision.is_(None))

    descending = filters.sort.startswith("-")
    name = filters.sort.lstrip("-")
    if name not in SORTS:
        raise Invalid(f"sort by one of {sorted(SORTS)}", code="pagination.invalid_sort", field="query.sort")
    column = getattr(table, name)
    after = decode_cursor(cursor, (instant, uuid.UUID))
    if after:
        stmt = stmt.where(after_key(column, table.id, after[0], after[1], descending))
    order = (column.desc().nulls_last(), table.id.desc()) if descending else (column.asc().nulls_last(), table.id)
    rows = (await session.execute(stmt.order_by(*order).limit(limit + 1))).all()
    rows, next_cursor = page(rows, limit, lambda r: [getattr(r[0], name), str(r[0].id)])
    return [spec.read(row, org_name, principal) for row, org_name in rows], next_cursor
