"""Moving a listing through its lifecycle: the owner's transitions, the operators' review (of a listing
or of its pending revision), and the clock closing needs past their deadline."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListingStatus
from schemas.tables import Need
from services import audit, outbox
from services.errors import DomainError, Forbidden
from services.lifecycle import TOPICS, TRANSITIONS, Action, next_status
from services.listings.mapping import revision_values, values_of
from services.listings.rules import get_row, require_owner, today
from services.listings.spec import ListingSpec
from services.principal import Principal


async def transition(session: AsyncSession, principal: Principal, spec: ListingSpec, listing_id: uuid.UUID,
                     action: Action, reason: str | None = None):
    row, org_name = await get_row(session, spec, principal, listing_id, lock=True)
    if TRANSITIONS[action][2] == "operator":
        if not principal.is_operator:
            raise Forbidden("operators review listings", code="auth.operator_required")
    else:
        require_owner(spec, principal, row)
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
    values = revision_values(row)
    if action == Action.reject:
        row.revision = {**row.revision, "status": "rejected", "rejection_reason": reason}
        row.reviewed_by = principal.user_id
        audit.record(session, principal, f"{spec.noun}.revision_rejected", spec.noun, row.id,
                     {"rejection_reason": {"before": None, "after": reason}})
        return
    spec.check_publishable(SimpleNamespace(**{**values_of(row), **values}), today(now))
    changes = audit.diff(values_of(row), {**values_of(row), **values})
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
