"""The two lists: create, read, list, edit and move achievements and needs through their lifecycle.

Achievements and needs share everything but their fields, so one set of functions serves both,
driven by a ListingSpec. Every write records its audit row and its outbox event in the same
transaction; the worker then updates the search index and the leads.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Date, Numeric, Select, and_, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import LeadStatus, ListingStatus, ListKind, OrgKind, Stage
from schemas.listings import CONFIDENTIAL_OWNER, STAGE_TRL, AchievementRead, NeedRead
from schemas.tables import Achievement, Lead, Need, Organisation
from services import audit, kinds, outbox
from services.db import flush_or_conflict
from services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthenticated
from services.kinds import Kind
from services.lifecycle import TOPICS, TRANSITIONS, Action, held_for_review, next_status
from services.pagination import decode_cursor, instant, page
from services.principal import Principal
from services.reveal import firm_revealed
from services.taxonomy import taxonomy

# --- columns <-> API ------------------------------------------------------------------------------

def _money_columns(about: Kind, value: dict | None) -> dict[str, Any]:
    value = value or {"negotiable": True}
    negotiable, low, high = about.amount_columns()
    return {negotiable: value.get("negotiable", True), low: value.get("min"), high: value.get("max")}


def _money_read(row) -> dict:
    negotiable, low, high = kinds.of_row(row).amount_columns()
    return {"negotiable": getattr(row, negotiable), "min": getattr(row, low), "max": getattr(row, high)}


def achievement_columns(body) -> dict[str, Any]:
    """The columns an AchievementCreate/Update sets; only the fields the client sent."""
    data = body.model_dump(exclude_unset=True, exclude={"price", "contact", "ip", "attachments"})
    sent = body.model_fields_set
    if "price" in sent:
        data.update(_money_columns(kinds.ACHIEVEMENT, body.price.model_dump() if body.price else None))
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
        data.update(_money_columns(kinds.NEED, body.budget.model_dump() if body.budget else None))
    if "contact" in sent:
        data["contact"] = body.contact.model_dump(exclude_none=True) if body.contact else {}
    if "challenge" in sent:
        c = body.challenge
        data.update(challenge_reward=c.reward if c else None, challenge_opens=c.opens if c else None,
                    challenge_closes=c.closes if c else None)
    return data


def _review_fields(row, owner: bool) -> dict:
    return {"status": row.status, "rejection_reason": row.rejection_reason, "submitted_at": row.submitted_at,
            "published_at": row.published_at, "created_at": row.created_at, "updated_at": row.updated_at,
            "revision": row.revision if owner else None}


def achievement_read(row: Achievement, org_name: str, principal: Principal, insider: bool = False) -> AchievementRead:
    owner = is_insider(row, principal)  # a broker on a lead is an insider too, but reviews are not its business
    insider = insider or owner
    return AchievementRead(
        id=row.id, organisation_id=row.organisation_id, organisation_name=org_name, external_id=row.external_id,
        title=row.title, summary=row.summary, description=row.description,
        application_scenarios=row.application_scenarios, problems_solved=row.problems_solved, keywords=row.keywords,
        field=row.field, secondary_fields=row.secondary_fields, ip=row.ip, trl=row.trl, stage=row.stage,
        transfer_modes=row.transfer_modes, price=_money_read(row), team=row.team, region=row.region,
        contact=row.contact if insider else None, attachments=row.attachments, **_review_fields(row, owner),
    )


def need_read(row: Need, org_name: str, principal: Principal, insider: bool = False) -> NeedRead:
    owner = is_insider(row, principal)
    insider = insider or owner
    hidden = row.confidential and not insider
    challenge = ({"reward": row.challenge_reward, "opens": row.challenge_opens, "closes": row.challenge_closes}
                 if row.challenge_reward is not None else None)
    return NeedRead(
        id=row.id, organisation_id=None if hidden else row.organisation_id,
        organisation_name=CONFIDENTIAL_OWNER if hidden else org_name, external_id=None if hidden else row.external_id,
        title=row.title, description=row.description, keywords=row.keywords, field=row.field,
        budget=_money_read(row), deadline=row.deadline, cooperation_modes=row.cooperation_modes,
        required_trl=row.required_trl, region=row.region, confidential=row.confidential,
        contact=row.contact if insider else None, challenge=challenge, **_review_fields(row, owner),
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


# "Already past" is judged by the date in China (UTC+8, no daylight saving), where the lists are used.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def _need_dates_open(row, on: date) -> None:
    """A need whose deadline or bidding window has passed is not published (nor sent to review)."""
    if row.deadline is not None and row.deadline < on:
        raise Invalid(f"the deadline {row.deadline} has passed", code="need.deadline_passed", field="deadline")
    if row.challenge_closes is not None and row.challenge_closes < on:
        raise Invalid(f"the challenge closed on {row.challenge_closes}", code="need.challenge_closed",
                      field="challenge.closes")


@dataclass(frozen=True)
class ListingSpec:
    """How a list is written: its kind's description, who posts it, what its API bodies set, its rules."""

    about: Kind
    posters: frozenset[str]  # organisation kinds that post this list
    minor_fields: frozenset[str]  # edits to these keep a published listing published
    columns: Callable[[Any], dict[str, Any]]
    read: Callable[..., Any]
    check_row: Callable[[Any], None] = lambda row: None
    check_publishable: Callable[[Any, date], None] = lambda row, on: None  # at submit and approve

    @property
    def kind(self) -> ListKind:
        return self.about.kind

    @property
    def noun(self) -> str:
        return self.about.noun

    @property
    def table(self) -> type:
        return self.about.table


ACHIEVEMENTS = ListingSpec(
    about=kinds.ACHIEVEMENT,
    posters=frozenset({OrgKind.university, OrgKind.institute, OrgKind.enterprise, OrgKind.agency}),
    minor_fields=frozenset({"contact", "attachments", "team", "external_id", *kinds.ACHIEVEMENT.amount_columns()}),
    columns=achievement_columns, read=achievement_read, check_row=_consistent_maturity,
)
NEEDS = ListingSpec(
    about=kinds.NEED,
    posters=frozenset({OrgKind.enterprise, OrgKind.agency, OrgKind.institute, OrgKind.university}),
    minor_fields=frozenset({"contact", "deadline", "external_id", *kinds.NEED.amount_columns()}),
    columns=need_columns, read=need_read, check_publishable=_need_dates_open,
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
            if c.name not in ("created_at", "updated_at", "revision")}


def _revision_values(spec: ListingSpec, row) -> dict[str, Any]:
    """The pending revision's values, back from JSONB into the columns' Python types."""
    columns = spec.table.__table__.columns
    values = {}
    for key, value in ((row.revision or {}).get("values") or {}).items():
        if value is not None and isinstance(columns[key].type, Numeric):
            value = Decimal(value)
        elif value is not None and isinstance(columns[key].type, Date):
            value = date.fromisoformat(value)
        values[key] = value
    return values


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
        spec.check_publishable(row, today())
        row.submitted_at = datetime.now(UTC)
    session.add(row)
    await flush_or_conflict(session, _external_id_conflict(spec))
    audit.record(session, principal, f"{spec.noun}.created", spec.noun, row.id, audit.diff({}, _values(spec, row)))
    outbox.emit(session, f"{spec.noun}.created", spec.noun, row.id)
    return spec.read(row, org.name, principal)


async def get(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID):
    row, org_name = await _get_row(session, spec, principal, listing_id)
    lead_id = await works_a_lead_on(session, principal, spec, listing_id)
    if lead_id is not None and spec.about.hides_owner and row.confidential and not is_insider(row, principal):
        audit.record_reveal(session, principal, row, lead_id)
    return spec.read(row, org_name, principal, lead_id is not None)


async def works_a_lead_on(session: AsyncSession, principal: Principal, spec: ListingSpec,
                          listing_id: uuid.UUID) -> uuid.UUID | None:
    """The active lead through which the caller sees this listing's owner and contact, if any: the broker
    working it sees an achievement's; a need's firm only as services.reveal says (its consent)."""
    if principal.is_anonymous:
        return None
    if spec.kind == ListKind.achievements:
        if not principal.is_broker:
            return None
        return await session.scalar(select(Lead.id).where(
            Lead.achievement_id == listing_id, Lead.claimed_by == principal.user_id,
            Lead.status == LeadStatus.active).limit(1))
    return await session.scalar(select(Lead.id).join(Achievement, Achievement.id == Lead.achievement_id).where(
        Lead.need_id == listing_id, Lead.status == LeadStatus.active, firm_revealed(principal)).limit(1))


async def update(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID, body):
    row, org_name = await _get_row(session, spec, principal, listing_id, lock=True)
    _require_owner(spec, principal, row)
    values = spec.columns(body)
    validate_codes(spec, values)
    if edit(session, principal, spec, row, values):
        await flush_or_conflict(session, _external_id_conflict(spec))
    return spec.read(row, org_name, principal)


def edit(session: AsyncSession, principal: Principal, spec: ListingSpec, row, values: dict[str, Any]) -> bool:
    """Apply an edit (a PATCH, an imported row) to a locked row; whether anything changed.

    On a published listing, minor fields change at once and substantive ones wait as a revision for an
    operator's review: the published version stays live (GET, search, matches, leads) until then."""
    live = _values(spec, row)
    pending = _revision_values(spec, row)
    proposed = {**live, **pending}
    merged = {**proposed, **values}
    spec.check_row(SimpleNamespace(**merged))
    if row.status in (ListingStatus.submitted, ListingStatus.published):
        spec.check_publishable(SimpleNamespace(**merged), today())
    held = held_for_review(row.status, set(audit.diff({k: proposed[k] for k in values}, values)),
                           spec.minor_fields)
    now = datetime.now(UTC)
    touched = False
    if held:  # a new proposal: the pending one with this edit on top, less what equals the live version
        proposal = {k: v for k, v in merged.items() if k not in spec.minor_fields and k in {*pending, *values}
                    and audit.jsonable(v) != audit.jsonable(live[k])}
        if proposal:
            row.revision = {"status": "submitted", "values": audit.jsonable(proposal),
                            "submitted_at": now.isoformat(), "rejection_reason": None}
            audit.record(session, principal, f"{spec.noun}.revision_submitted", spec.noun, row.id,
                         audit.diff({k: live[k] for k in proposal}, proposal))
        else:  # edited back to the live version: nothing left to review
            row.revision = None
            audit.record(session, principal, f"{spec.noun}.revision_withdrawn", spec.noun, row.id, {})
        touched = True
    direct = {k: v for k, v in values.items() if not (row.status == ListingStatus.published
                                                      and k not in spec.minor_fields)}
    for key, value in direct.items():
        setattr(row, key, value)
    changes = audit.diff({k: live[k] for k in direct}, direct)
    if changes:
        audit.record(session, principal, f"{spec.noun}.updated", spec.noun, row.id, changes)
        outbox.emit(session, f"{spec.noun}.updated", spec.noun, row.id)
        touched = True
    if touched:
        row.updated_at = now
    return touched


async def transition(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID,
                     action: Action, reason: str | None = None):
    row, org_name = await _get_row(session, spec, principal, listing_id, lock=True)
    if TRANSITIONS[action][2] == "operator":
        if not principal.is_operator:
            raise Forbidden("operators review listings", code="auth.operator_required")
    else:
        _require_owner(spec, principal, row)
    if action in (Action.approve, Action.reject) and (row.revision or {}).get("status") == "submitted":
        _review_revision(session, principal, spec, row, action, reason)
        return spec.read(row, org_name, principal)
    before = {"status": row.status, "rejection_reason": row.rejection_reason}
    row.status = next_status(row.status, action)
    now = datetime.now(UTC)
    if action in (Action.submit, Action.approve):
        spec.check_publishable(row, today(now))
    if action == Action.submit:
        row.submitted_at, row.rejection_reason = now, None
    elif action == Action.approve:
        row.published_at, row.reviewed_by = now, principal.user_id
    elif action == Action.reject:
        row.rejection_reason, row.reviewed_by = reason, principal.user_id
    elif action in (Action.close, Action.archive):
        row.revision = None  # nothing left to review on a listing that left the list
    row.updated_at = now
    topic = f"{spec.noun}.{TOPICS[action]}"
    audit.record(session, principal, topic, spec.noun, row.id,
                 audit.diff(before, {"status": row.status, "rejection_reason": row.rejection_reason}))
    outbox.emit(session, topic, spec.noun, row.id)
    return spec.read(row, org_name, principal)


def _review_revision(session: AsyncSession, principal: Principal, spec: ListingSpec, row, action: Action,
                     reason: str | None) -> None:
    """Approve or reject a published listing's pending revision. Approval swaps it in (and the worker
    re-indexes it and recomputes its leads); rejection leaves the published version as it was."""
    now = datetime.now(UTC)
    values = _revision_values(spec, row)
    if action == Action.reject:
        row.revision = {**row.revision, "status": "rejected", "rejection_reason": reason}
        row.reviewed_by = principal.user_id
        audit.record(session, principal, f"{spec.noun}.revision_rejected", spec.noun, row.id,
                     {"rejection_reason": {"before": None, "after": reason}})
        return
    spec.check_publishable(SimpleNamespace(**{**_values(spec, row), **values}), today(now))
    changes = audit.diff(_values(spec, row), {**_values(spec, row), **values})
    for key, value in values.items():
        setattr(row, key, value)
    row.revision, row.reviewed_by, row.updated_at = None, principal.user_id, now
    audit.record(session, principal, f"{spec.noun}.revision_approved", spec.noun, row.id, changes)
    outbox.emit(session, f"{spec.noun}.updated", spec.noun, row.id)


async def review_many(session: AsyncSession, principal: Principal, spec: ListingSpec, ids: list[uuid.UUID],
                      action: Action, reason: str | None) -> list[dict[str, Any]]:
    """Approve or reject many listings (or their pending revisions) at once; each one succeeds or fails on
    its own, and the answer says which."""
    if not principal.is_operator:
        raise Forbidden("operators review listings", code="auth.operator_required")
    results = []
    for listing_id in dict.fromkeys(ids):
        try:
            async with session.begin_nested():
                listing = await transition(session, principal, spec, listing_id, action, reason)
            results.append({"id": listing_id, "status": 200, "listing_status": listing.status})
        except DomainError as exc:
            results.append({"id": listing_id, "status": exc.status, "code": exc.code, "detail": exc.detail,
                            "field": exc.field})
    return results


async def tick_need_deadlines(ctx, now: datetime) -> int:
    """Clock-driven: published needs whose deadline has passed are closed, so they leave search, the
    matches and the next publication (through their `need.closed` event). Returns how many."""
    system = Principal(kind="system")
    async with ctx.sessions() as session, session.begin():
        rows = (await session.scalars(select(Need).where(
            Need.status == ListingStatus.published, Need.deadline < today(now),
        ).with_for_update(skip_locked=True))).all()
        for row in rows:
            row.status, row.revision, row.updated_at = ListingStatus.closed, None, now
            audit.record(session, system, "need.closed", "need", row.id,
                         {"status": {"before": "published", "after": "closed"},
                          "reason": {"before": None, "after": f"deadline {row.deadline} passed"}})
            outbox.emit(session, "need.closed", "need", row.id)
    return len(rows)


async def delete(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID) -> None:
    row, _ = await _get_row(session, spec, principal, listing_id, lock=True)
    _require_owner(spec, principal, row)
    if row.status not in (ListingStatus.draft, ListingStatus.rejected):
        raise Conflict("only drafts and rejected listings are deleted; archive the others",
                       code="listing.illegal_transition", field="status")
    audit.record(session, principal, f"{spec.noun}.deleted", spec.noun, row.id, audit.diff(_values(spec, row), {}))
    outbox.emit(session, f"{spec.noun}.deleted", spec.noun, row.id)
    # Its leads (retired since it left the list) go with it; a deal, later, would keep its own copy.
    await session.execute(sql_delete(Lead).where(getattr(Lead, spec.about.lead_column) == row.id))
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
