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
    amount = "price" if kind == "achievements" else "budget"

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
        updated_since: Instant | None = None,
        sort: Annotated[str, Query(pattern=r"^-?(updated_at|published_at|created_at)$")] = "-updated_at",
    ):
        """Published listings for everyone; an organisation also sees its own drafts, operators see all.
        Cursor-paginated in a stable order (the sort key, then the id)."""
        filters = listings.ListingFilters(
            field=field, region=region, trl_min=trl_min, trl_max=trl_max, mode=mode, amount_min=amount_min,
            amount_max=amount_max, status=status_, organisation_id=organisation_id, updated_since=updated_since,
            sort=sort)
        items, cursor = await listings.list_page(session, principal, spec, filters, pagination.limit,
                                                 pagination.cursor)
        return Page(items=items, next_cursor=cursor)

    @router.get("/{listing_id}", response_model=read_model, name=f"{kind}_get")
    async def get(listing_id: uuid.UUID, principal: Anyone, session: Session):
        """One listing; contact details only for its organisation and operators."""
        return await listings.get(session, principal, spec, listing_id)

    @router.patch("/{listing_id}", response_model=read_model, name=f"{kind}_update")
    async def update(listing_id: uuid.UUID, body: update_model, principal: ListingWriter, session: Session):
        """Change the fields sent. A published listing whose substance changes goes back to review;
        contact, attachments, team and price/budget edits keep it published."""
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
        """Publish a listing under review (operators)."""
        return await listings.transition(session, principal, spec, listing_id, Action.approve)

    @router.post("/{listing_id}/reject", response_model=read_model, name=f"{kind}_reject")
    async def reject(listing_id: uuid.UUID, body: RejectBody, principal: Operator, session: Session):
        """Send a listing under review back to its owner with a reason (operators)."""
        return await listings.transition(session, principal, spec, listing_id, Action.reject, body.reason)

    return router


def _owner_action(router: APIRouter, spec, read_model, action: Action, doc: str) -> None:
    async def endpoint(listing_id: uuid.UUID, principal: ListingWriter, session: Session):
        return await listings.transition(session, principal, spec, listing_id, action)

    endpoint.__doc__ = doc
    router.add_api_route(f"/{{listing_id}}/{action.value}", endpoint, methods=["POST"], response_model=read_model,
                         name=f"{spec.kind.value}_{action.value}")


achievements_router = listing_router(listings.ACHIEVEMENTS, AchievementCreate, AchievementUpdate, AchievementRead)
needs_router = listing_router(listings.NEEDS, NeedCreate, NeedUpdate, NeedRead)
