"""Creating, editing and deleting a listing; each write records its audit row and outbox event in the
caller's transaction."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListingStatus
from schemas.tables import Lead, Organisation
from services import audit, outbox
from services.db import flush_or_conflict
from services.errors import Conflict, Forbidden
from services.lifecycle import held_for_review
from services.listings.mapping import revision_values, values_of
from services.listings.rules import get_row, require_owner, today, validate_codes
from services.listings.spec import ListingSpec
from services.principal import Principal


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
    audit.record(session, principal, f"{spec.noun}.created", spec.noun, row.id, audit.diff({}, values_of(row)))
    outbox.emit(session, f"{spec.noun}.created", spec.noun, row.id)
    return spec.read(row, org.name, principal)


async def update(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID, body):
    row, org_name = await get_row(session, spec, principal, listing_id, lock=True)
    require_owner(spec, principal, row)
    values = spec.columns(body)
    validate_codes(spec, values)
    if edit(session, principal, spec, row, values):
        await flush_or_conflict(session, _external_id_conflict(spec))
    return spec.read(row, org_name, principal)


def edit(session: AsyncSession, principal: Principal, spec: ListingSpec, row, values: dict[str, Any]) -> bool:
    """Apply an edit (a PATCH, an imported row) to a locked row; whether anything changed.

    On a published listing, minor fields change at once and substantive ones wait as a revision for an
    operator's review: the published version stays live (GET, search, matches, leads) until then."""
    live = values_of(row)
    pending = revision_values(row)
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


async def delete(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID) -> None:
    row, _ = await get_row(session, spec, principal, listing_id, lock=True)
    require_owner(spec, principal, row)
    if row.status not in (ListingStatus.draft, ListingStatus.rejected):
        raise Conflict("only drafts and rejected listings are deleted; archive the others",
                       code="listing.illegal_transition", field="status")
    audit.record(session, principal, f"{spec.noun}.deleted", spec.noun, row.id, audit.diff(values_of(row), {}))
    outbox.emit(session, f"{spec.noun}.deleted", spec.noun, row.id)
    # Its leads (retired since it left the list) go with it; a deal, later, would keep its own copy.
    await session.execute(sql_delete(Lead).where(getattr(Lead, spec.about.lead_column) == row.id))
    await session.delete(row)


def _external_id_conflict(spec: ListingSpec) -> dict:
    return {f"uq_{spec.noun}_external": lambda: Conflict(
        f"the organisation already has a {spec.noun} with this external_id",
        code=f"{spec.noun}.duplicate_external_id", field="body.external_id")}
