"""The two lists: create, read, list, edit and move achievements and needs through their lifecycle.

Achievements and needs share everything but their fields, so one set of functions serves both,
driven by a ListingSpec. Every write records its audit row and its outbox event in the same
transaction; the worker then updates the search index and the leads.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LeadStatus, ListingStatus, ListKind, OrgKind, Stage
from schemas.listings import CONFIDENTIAL_OWNER, STAGE_TRL, AchievementRead, NeedRead
from schemas.tables import Achievement, Lead, Need, Organisation
from services import audit, outbox
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.lifecycle import TOPICS, TRANSITIONS, Action, next_status, status_after_edit
from services.pagination import decode_cursor, page
from services.principal import Principal
from services.reveal import firm_revealed
from services.taxonomy import taxonomy

# --- columns <-> API ------------------------------------------------------------------------------

def _money_columns(prefix: str, value: dict | None) -> dict[str, Any]:
    value = value or {"negotiable": True}
    return {f"{prefix}_negotiable": value.get("negotiable", True), f"{prefix}_min": value.get("min"),
            f"{prefix}_max": value.get("max")}


def _money_read(row, prefix: str) -> dict:
    return {"negotiable": getattr(row, f"{prefix}_negotiable"), "min": getattr(row, f"{prefix}_min"),
            "max": getattr(row, f"{prefix}_max")}


def achievement_columns(body) -> dict[str, Any]:
    """The columns an AchievementCreate/Update sets; only the fields the client sent."""
    data = body.model_dump(exclude_unset=True, exclude={"price", "contact", "ip", "attachments"})
    sent = body.model_fields_set
    if "price" in sent:
        data.update(_money_columns("price", body.price.model_dump() if body.price else None))
    for name in ("contact", "ip", "attachments"):
        if name in sent:
            value = getattr(body, name)
            data[name] = ([v.model_dump(mode="json", exclude_none=True) for v in value] if isinstance(value, list)
                          else (value.model_dump(mode="json", exclude_none=True) if value else {}))
    return data


def need_columns(body) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True, exclude={"budget", "contact", "challenge"})
    sent = body.model_fields_set
    if "budget" in sent:
        data.update(_money_columns("budget", body.budget.model_dump() if body.budget else None))
    if "contact" in sent:
        data["contact"] = body.contact.model_dump(exclude_none=True) if body.contact else {}
    if "challenge" in sent:
        c = body.challenge
        data.update(challenge_reward=c.reward if c else None, challenge_opens=c.opens if c else None,
                    challenge_closes=c.closes if c else None)
    return data


def _review_fields(row) -> dict:
    return {"status": row.status, "rejection_reason": row.rejection_reason, "submitted_at": row.submitted_at,
            "published_at": row.published_at, "created_at": row.created_at, "updated_at": row.updated_at}


def achievement_read(row: Achievement, org_name: str, principal: Principal, insider: bool = False) -> AchievementRead:
    insider = insider or is_insider(row, principal)
    return AchievementRead(
        id=row.id, organisation_id=row.organisation_id, organisation_name=org_name, external_id=row.external_id,
        title=row.title, summary=row.summary, description=row.description, keywords=row.keywords,
        field=row.field, secondary_fields=row.secondary_fields, ip=row.ip, trl=row.trl, stage=row.stage,
        transfer_modes=row.transfer_modes, price=_money_read(row, "price"), team=row.team, region=row.region,
        contact=row.contact if insider else None, attachments=row.attachments, **_review_fields(row),
    )


def need_read(row: Need, org_name: str, principal: Principal, insider: bool = False) -> NeedRead:
    insider = insider or is_insider(row, principal)
    hidden = row.confidential and not insider
    challenge = ({"reward": row.challenge_reward, "opens": row.challenge_opens, "closes": row.challenge_closes}
                 if row.challenge_reward is not None else None)
    return NeedRead(
        id=row.id, organisation_id=None if hidden else row.organisation_id,
        organisation_name=CONFIDENTIAL_OWNER if hidden else org_name, external_id=None if hidden else row.external_id,
        title=row.title, description=row.description, keywords=row.keywords, field=row.field,
        budget=_money_read(row, "budget"), deadline=row.deadline, cooperation_modes=row.cooperation_modes,
        required_trl=row.required_trl, region=row.region, confidential=row.confidential,
        contact=row.contact if insider else None, challenge=challenge, **_review_fields(row),
    )


def is_insider(row, principal: Principal) -> bool:
    """The owner and operators see contact details and a confidential firm's identity (and so do those the
    firm consented to on a lead: see `works_a_lead_on`)."""
    return principal.is_operator or principal.organisation_id == row.organisation_id


def _consistent_maturity(row: Achievement) -> None:
    """The create model checks TRL against stage; a PATCH of one of them is checked on the merged row."""
    if row.trl is not None and row.stage is not None and row.trl not in STAGE_TRL[Stage(row.stage)]:
        raise Invalid(f"TRL {row.trl} does not fit the stage {row.stage}", code="achievement.inconsistent_maturity",
                      field="body.stage")


@dataclass(frozen=True)
class ListingSpec:
    kind: ListKind
    noun: str
    table: type
    posters: frozenset[str]  # organisation kinds that post this list
    minor_fields: frozenset[str]  # edits to these keep a published listing published
    columns: Callable[[Any], dict[str, Any]]
    read: Callable[..., Any]
    check_row: Callable[[Any], None] = lambda row: None


ACHIEVEMENTS = ListingSpec(
    kind=ListKind.achievements, noun="achievement", table=Achievement,
    posters=frozenset({OrgKind.university, OrgKind.institute, OrgKind.enterprise, OrgKind.agency}),
    minor_fields=frozenset({"contact", "attachments", "team", "external_id", "price_negotiable", "price_min",
                            "price_max"}),
    columns=achievement_columns, read=achievement_read, check_row=_consistent_maturity,
)
NEEDS = ListingSpec(
    kind=ListKind.needs, noun="need", table=Need,
    posters=frozenset({OrgKind.enterprise, OrgKind.agency, OrgKind.institute, OrgKind.university}),
    minor_fields=frozenset({"contact", "deadline", "external_id", "budget_negotiable", "budget_min",
                            "budget_max"}),
    columns=need_columns, read=need_read,
)
SPECS = {ListKind.achievements: ACHIEVEMENTS, ListKind.needs: NEEDS}


# --- rules ----------------------------------------------------------------------------------------

def readable(spec: ListingSpec, principal: Principal) -> Select:
    """The one statement that says which listings a caller may see (list and get both use it)."""
    table = spec.table
    stmt = select(table, Organisation.name).join(Organisation, Organisation.id == table.organisation_id)
    if principal.is_operator:
        return stmt
    published = table.status == ListingStatus.published
    if principal.organisation_id:
        return stmt.where(or_(published, table.organisation_id == principal.organisation_id))
    return stmt.where(published)


def validate_codes(spec: ListingSpec, values: dict[str, Any]) -> None:
    tax = taxonomy()
    if "field" in values:
        tax.check_field(values["field"], "body.field")
    for code in values.get("secondary_fields") or []:
        tax.check_field(code, "body.secondary_fields")
    tax.check_region(values.get("region"), "body.region")


async def _get_row(session: AsyncSession, spec: ListingSpec, principal: Principal, listing_id: uuid.UUID,
                   lock: bool = False):
    stmt = readable(spec, principal).where(spec.table.id == listing_id)
    if lock:
        stmt = stmt.with_for_update(of=spec.table)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"{spec.noun} {listing_id} not found", code=f"{spec.noun}.not_found")
    return row


def _require_owner(spec: ListingSpec, principal: Principal, row) -> None:
    if principal.is_operator:
        return
    if principal.organisation_id != row.organisation_id:
        raise NotFound(f"{spec.noun} {row.id} not found", code=f"{spec.noun}.not_found")
    if not principal.can_write_listings:
        raise Forbidden("this needs write access to the organisation's listings", code="auth.write_forbidden")


def _values(spec: ListingSpec, row) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in spec.table.__table__.columns
            if c.name not in ("created_at", "updated_at")}


# --- writes ---------------------------------------------------------------------------------------

async def create(session: AsyncSession, principal: Principal, spec: ListingSpec, body,
                 status: ListingStatus = ListingStatus.draft):
    org = await session.get(Organisation, principal.organisation_id) if principal.organisation_id else None
    if org is None or org.kind not in spec.posters:
        raise Forbidden(f"{spec.noun}s are posted by organisations of kind {sorted(spec.posters)}",
                        code=f"{spec.noun}.poster_forbidden")
    values = spec.columns(body)
    validate_codes(spec, values)
    row = spec.table(organisation_id=org.id, status=status, **values)
    if status == ListingStatus.submitted:
        row.submitted_at = datetime.now(UTC)
    session.add(row)
    await flush_or_conflict(session, _external_id_conflict(spec))
    audit.record(session, principal, f"{spec.noun}.created", spec.noun, row.id, audit.diff({}, _values(spec, row)))
    outbox.emit(session, f"{spec.noun}.created", spec.noun, row.id)
    return spec.read(row, org.name, principal)


async def get(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID):
    row, org_name = await _get_row(session, spec, principal, listing_id)
    return spec.read(row, org_name, principal, await works_a_lead_on(session, principal, spec, listing_id))


async def works_a_lead_on(session: AsyncSession, principal: Principal, spec: ListingSpec,
                          listing_id: uuid.UUID) -> bool:
    """Whether the caller sees this listing's owner and contact through one of its active leads: the broker
    working it sees an achievement's; a need's firm only as services.reveal says (its consent)."""
    if principal.is_anonymous:
        return False
    if spec.kind == ListKind.achievements:
        return principal.is_broker and bool(await session.scalar(select(Lead.id).where(
            Lead.achievement_id == listing_id, Lead.claimed_by == principal.user_id,
            Lead.status == LeadStatus.active).limit(1)))
    return bool(await session.scalar(select(Lead.id).join(Achievement, Achievement.id == Lead.achievement_id).where(
        Lead.need_id == listing_id, Lead.status == LeadStatus.active, firm_revealed(principal)).limit(1)))


async def update(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID, body):
    row, org_name = await _get_row(session, spec, principal, listing_id, lock=True)
    _require_owner(spec, principal, row)
    values = spec.columns(body)
    validate_codes(spec, values)
    before = _values(spec, row)
    for key, value in values.items():
        setattr(row, key, value)
    spec.check_row(row)
    changes = audit.diff(before, _values(spec, row))
    if not changes:
        return spec.read(row, org_name, principal)
    new_status = status_after_edit(row.status, set(changes), spec.minor_fields)
    if new_status != row.status:
        row.status = new_status
        row.submitted_at = datetime.now(UTC)
        changes["status"] = {"before": before["status"], "after": new_status.value}
    row.updated_at = datetime.now(UTC)
    await flush_or_conflict(session, _external_id_conflict(spec))
    audit.record(session, principal, f"{spec.noun}.updated", spec.noun, row.id, changes)
    outbox.emit(session, f"{spec.noun}.updated", spec.noun, row.id)
    return spec.read(row, org_name, principal)


async def transition(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID,
                     action: Action, reason: str | None = None):
    row, org_name = await _get_row(session, spec, principal, listing_id, lock=True)
    if TRANSITIONS[action][2] == "operator":
        if not principal.is_operator:
            raise Forbidden("operators review listings", code="auth.operator_required")
    else:
        _require_owner(spec, principal, row)
    before = {"status": row.status, "rejection_reason": row.rejection_reason}
    row.status = next_status(row.status, action)
    now = datetime.now(UTC)
    if action == Action.submit:
        row.submitted_at, row.rejection_reason = now, None
    elif action == Action.approve:
        row.published_at, row.reviewed_by = now, principal.user_id
    elif action == Action.reject:
        row.rejection_reason, row.reviewed_by = reason, principal.user_id
    row.updated_at = now
    topic = f"{spec.noun}.{TOPICS[action]}"
    audit.record(session, principal, topic, spec.noun, row.id,
                 audit.diff(before, {"status": row.status, "rejection_reason": row.rejection_reason}))
    outbox.emit(session, topic, spec.noun, row.id)
    return spec.read(row, org_name, principal)


async def delete(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID) -> None:
    row, _ = await _get_row(session, spec, principal, listing_id, lock=True)
    _require_owner(spec, principal, row)
    if row.status not in (ListingStatus.draft, ListingStatus.rejected):
        raise Conflict("only drafts and rejected listings are deleted; archive the others",
                       code="listing.illegal_transition", field="status")
    audit.record(session, principal, f"{spec.noun}.deleted", spec.noun, row.id, audit.diff(_values(spec, row), {}))
    outbox.emit(session, f"{spec.noun}.deleted", spec.noun, row.id)
    # Its leads (retired since it left the list) go with it; a deal, later, would keep its own copy.
    lead_column = Lead.need_id if spec.kind == ListKind.needs else Lead.achievement_id
    await session.execute(sql_delete(Lead).where(lead_column == row.id))
    await session.delete(row)


def _external_id_conflict(spec: ListingSpec) -> dict:
    return {f"uq_{spec.noun}_external": lambda: Conflict(
        f"the organisation already has a {spec.noun} with this external_id",
        code=f"{spec.noun}.duplicate_external_id", field="body.external_id")}


# --- lists ----------------------------------------------------------------------------------------

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


SORTS = {"updated_at", "published_at", "created_at"}


async def list_page(session: AsyncSession, principal: Principal, spec: ListingSpec, filters: ListingFilters,
                    limit: int, cursor: str | None):
    table = spec.table
    stmt = readable(spec, principal)
    tax = taxonomy()
    if filters.field:
        tax.check_field(filters.field, "query.field")
        matches = [table.field == filters.field, table.field.startswith(filters.field + ".")]
        if spec.kind == ListKind.achievements:
            matches.append(table.secondary_fields.contains([filters.field]))
        stmt = stmt.where(or_(*matches))
    if filters.region:
        tax.check_region(filters.region, "query.region")
        stmt = stmt.where(table.region == filters.region)
    trl = table.trl if spec.kind == ListKind.achievements else table.required_trl
    if filters.trl_min is not None:
        stmt = stmt.where(trl >= filters.trl_min)
    if filters.trl_max is not None:
        stmt = stmt.where(trl <= filters.trl_max)
    if filters.mode:
        modes = table.transfer_modes if spec.kind == ListKind.achievements else table.cooperation_modes
        stmt = stmt.where(modes.contains([filters.mode]))
    prefix = "price" if spec.kind == ListKind.achievements else "budget"
    low, high = getattr(table, f"{prefix}_min"), getattr(table, f"{prefix}_max")
    if filters.amount_min is not None:  # ranges overlap: the listing's upper end reaches the wanted lower end
        stmt = stmt.where(or_(high.is_(None), high >= filters.amount_min))
    if filters.amount_max is not None:
        stmt = stmt.where(or_(low.is_(None), low <= filters.amount_max))
    if filters.status:
        stmt = stmt.where(table.status == filters.status)
    if filters.organisation_id:
        stmt = stmt.where(table.organisation_id == filters.organisation_id)
        if spec.kind == ListKind.needs and not (principal.is_operator
                                                or principal.organisation_id == filters.organisation_id):
            stmt = stmt.where(table.confidential.is_(False))  # a filter must not reveal a confidential firm
    if filters.updated_since:
        stmt = stmt.where(table.updated_at >= filters.updated_since)

    descending = filters.sort.startswith("-")
    name = filters.sort.lstrip("-")
    if name not in SORTS:
        raise Invalid(f"sort by one of {sorted(SORTS)}", code="pagination.invalid_sort", field="query.sort")
    column = getattr(table, name)
    after = decode_cursor(cursor, (datetime.fromisoformat, uuid.UUID))
    if after:
        stmt = stmt.where(_after(column, table.id, after[0], after[1], descending))
    order = (column.desc().nulls_last(), table.id.desc()) if descending else (column.asc().nulls_last(), table.id)
    rows = (await session.execute(stmt.order_by(*order).limit(limit + 1))).all()
    rows, next_cursor = page(rows, limit, lambda r: [getattr(r[0], name), str(r[0].id)])
    return [spec.read(row, org_name, principal) for row, org_name in rows], next_cursor


def _after(column, id_column, value, last_id, descending: bool):
    """Keyset condition for (column, id) with nulls last, in either direction."""
    if value is None:  # we are inside the trailing nulls: only the id decides
        return and_(column.is_(None), id_column < last_id if descending else id_column > last_id)
    if descending:
        return or_(column < value, and_(column == value, id_column < last_id), column.is_(None))
    return or_(column > value, and_(column == value, id_column > last_id), column.is_(None))
