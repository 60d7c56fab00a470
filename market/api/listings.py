"""The routes of the two lists. Achievements and needs have the same shape, so one factory builds
both routers; operationIds stay `achievements_create`, `needs_approve`, …"""

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from market.api.deps import Pagination, Session, amount_query
from market.auth import Anyone, ListingWriter, Operator
from schemas.common import Instant, Page
from schemas.enums import ListingStatus, TransferMode
from schemas.listings import (
    AchievementCreate,
    AchievementRead,
    AchievementUpdate,
    NeedCreate,
    NeedRead,
    NeedUpdate,
    RejectBody,
    ReviewReport,
    ReviewRequest,
)
from services import listings
from services.lifecycle import Action

OWNER_ACTIONS = {
    Action.submit: "Send a draft (or a rejected listing) to review.",
    Action.withdraw: "Take a listing back from review into draft.",
    Action.close: "Mark a published listing done: the need is fulfilled, the achievement transferred.",
    Action.archive: "Take a listing off the list for good (it leaves search and matching).",
    Action.reopen: "Bring a closed or archived listing back as a draft.",
}


def listing_router(spec: listings.ListingSpec, create_model, update_model, read_model) -> APIRouter:
    kind = spec.kind.value
    router = APIRouter(prefix=f"/v1/{kind}", tags=[kind])
    amount = spec.about.amount

    @router.post("", response_model=read_model, status_code=status.HTTP_201_CREATED, name=f"{kind}_create")
    async def create(
        body: create_model, principal: ListingWriter, session: Session,
        submit: Annotated[bool, Query(description="Send straight to review instead of saving a draft")] = False,
    ):
        """Post a listing of the caller's organisation: a draft, or straight to review with `submit=true`."""
        return await listings.create(session, principal, spec, body,
                                     ListingStatus.submitted if submit else ListingStatus.draft)

    @router.get("", response_model=Page[read_model], name=f"{kind}_list")
    async def list_(
        principal: Anyone, session: Session, pagination: Pagination,
        field: Annotated[str | None, Query(max_length=80, description="Field code; includes its sub-fields")] = None,
        region: Annotated[str | None, Query(max_length=40)] = None,
        trl_min: Annotated[int | None, Query(ge=1, le=9)] = None,
        trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
        mode: Annotated[TransferMode | None, Query(description="Transfer / cooperation mode")] = None,
        amount_min: Annotated[Decimal | None, amount_query(description=f"{amount} range overlaps this minimum")] = None,
        amount_max: Annotated[Decimal | None, amount_query(description=f"{amount} range overlaps this maximum")] = None,
        status_: Annotated[ListingStatus | None, Query(alias="status")] = None,
        organisation_id: uuid.UUID | None = None,
        mine: Annotated[bool, Query(description="Only the caller's organisation's listings, in every status "
                                                "(401 without credentials)")] = False,
        revision: Annotated[bool | None, Query(description="Only listings with (true) or without (false) a "
                                                           "revision waiting for review")] = None,
        updated_since: Instant | None = None,
        sort: Annotated[str, Query(pattern=r"^-?(updated_at|published_at|created_at)$")] = "-updated_at",
    ):
        """Published listings for everyone; an organisation also sees its own drafts, operators see all.
        Cursor-paginated in a stable order (the sort key, then the id)."""
        filters = listings.ListingFilters(
            field=field, region=region, trl_min=trl_min, trl_max=trl_max, mode=mode, amount_min=amount_min,
            amount_max=amount_max, status=status_, organisation_id=organisation_id, updated_since=updated_since,
            sort=sort, mine=mine, revision=revision)
        items, cursor = await listings.list_page(session, principal, spec, filters, pagination.limit,
                                                 pagination.cursor)
        return Page(items=items, next_cursor=cursor)

    @router.get("/{listing_id}", response_model=read_model, name=f"{kind}_get")
    async def get(listing_id: uuid.UUID, principal: Anyone, session: Session):
        """One listing; contact details only for its organisation and operators."""
        return await listings.get(session, principal, spec, listing_id)

    @router.patch("/{listing_id}", response_model=read_model, name=f"{kind}_update")
    async def update(listing_id: uuid.UUID, body: update_model, principal: ListingWriter, session: Session):
        """Change the fields sent. On a published listing, contact, attachments, team, external id and
        price/budget (and a need's deadline) change at once; a substantive change (title, text, field,
        maturity …) waits as a `revision` for an operator's review while the published version stays
        live in GET, search, matches and leads. Further edits add to the pending revision; editing back
        to the live values withdraws it."""
        return await listings.update(session, principal, spec, listing_id, body)

    @router.delete("/{listing_id}", status_code=status.HTTP_204_NO_CONTENT, name=f"{kind}_delete")
    async def delete(listing_id: uuid.UUID, principal: ListingWriter, session: Session) -> Response:
        """Delete a draft or rejected listing (others are archived, not deleted)."""
        await listings.delete(session, principal, spec, listing_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    for action, doc in OWNER_ACTIONS.items():
        _owner_action(router, spec, read_model, action, doc)

    @router.post("/{listing_id}/approve", response_model=read_model, name=f"{kind}_approve")
    async def approve(listing_id: uuid.UUID, principal: Operator, session: Session):
        """Publish a listing under review, or swap in a published listing's pending revision (operators).
        A need whose deadline or challenge window has passed is refused (422 naming the field)."""
        return await listings.transition(session, principal, spec, listing_id, Action.approve)

    @router.post("/{listing_id}/reject", response_model=read_model, name=f"{kind}_reject")
    async def reject(listing_id: uuid.UUID, body: RejectBody, principal: Operator, session: Session):
        """Send a listing under review back to its owner with a reason, or reject a published listing's
        pending revision (the published version stays as it was; the reason is on the revision)."""
        return await listings.transition(session, principal, spec, listing_id, Action.reject, body.reason)

    @router.post("/review", response_model=ReviewReport, name=f"{kind}_review")
    async def review(body: ReviewRequest, principal: Operator, session: Session):
        """Approve or reject many listings (or their pending revisions) in one request (operators).
        Each id succeeds or fails on its own; `items` has, per id, the status a single approve/reject
        would have answered and, when it failed, its problem code."""
        items = await listings.review_many(session, principal, spec, body.ids, Action(body.action), body.reason)
        failed = sum(1 for i in items if i["status"] != 200)
        return ReviewReport(succeeded=len(items) - failed, failed=failed, items=items)

    return router


def _owner_action(router: APIRouter, spec, read_model, action: Action, doc: str) -> None:
    async def endpoint(listing_id: uuid.UUID, principal: ListingWriter, session: Session):
        return await listings.transition(session, principal, spec, listing_id, action)

    endpoint.__doc__ = doc
    router.add_api_route(f"/{{listing_id}}/{action.value}", endpoint, methods=["POST"], response_model=read_model,
                         name=f"{spec.kind.value}_{action.value}")


achievements_router = listing_router(listings.ACHIEVEMENTS, AchievementCreate, AchievementUpdate, AchievementRead)
needs_router = listing_router(listings.NEEDS, NeedCreate, NeedUpdate, NeedRead)
