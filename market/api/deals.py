"""Deals (技术合同): the contract record, its lifecycle, and a deal made from a won lead."""

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from market.api.deps import Pagination, Session, file_content
from market.auth import Authenticated, Operator
from schemas.common import Page
from schemas.deals import (
    DealCreate,
    DealFromLead,
    DealRead,
    DealTerminate,
    DealUpdate,
    ObligationCreate,
    ObligationRead,
    ObligationSettle,
    ObligationUpdate,
    ObligationWaive,
    RegistrationForm,
    RegistrationRecord,
    RegistrationRefuse,
    RegistrationSubmit,
)
from schemas.enums import DealStatus, FormFormat
from services import deals, exports, obligations, registration
from services.exports import MEDIA
from services.pagination import decode_cursor, page

router = APIRouter(prefix="/v1/deals", tags=["deals"])
lead_deal_router = APIRouter(prefix="/v1/leads", tags=["deals"])


@router.get("", response_model=Page[DealRead])
async def deals_list(
    principal: Authenticated, session: Session, pagination: Pagination,
    status_: Annotated[DealStatus | None, Query(alias="status")] = None,
    organisation_id: uuid.UUID | None = None, broker_id: uuid.UUID | None = None,
):
    """The deals the caller is party to (or attributed to, for a broker; all of them, for operators),
    newest first."""
    rows = await deals.list_deals(session, principal, status=status_, organisation_id=organisation_id,
                                  broker_id=broker_id, limit=pagination.limit,
                                  after=decode_cursor(pagination.cursor, (datetime.fromisoformat, uuid.UUID)))
    rows, cursor = page(rows, pagination.limit, lambda r: [r[0].created_at.isoformat(), str(r[0].id)])
    return Page(items=[deals.deal_read(*row) for row in rows], next_cursor=cursor)


@router.post("", response_model=DealRead, status_code=status.HTTP_201_CREATED)
async def deals_create(body: DealCreate, principal: Authenticated, session: Session):
    """Record a contract as a draft. The caller is one of the parties (a member or a write API key), a
    broker attributing it to themselves, or an operator. Seller and buyer must exist and differ; the
    technology part (技术交易额) is at most the amount (成交额) and defaults to it."""
    deal = await deals.create(session, principal, body)
    return await deals.get(session, principal, deal.id)


@lead_deal_router.post("/{lead_id}/deal", response_model=DealRead, status_code=status.HTTP_201_CREATED)
async def leads_create_deal(lead_id: uuid.UUID, body: DealFromLead, principal: Authenticated, session: Session):
    """Turn a won lead into a draft deal: the achievement's owner sells, the need's owner buys, the
    listings, field, IP and the attributed broker are pre-filled."""
    deal = await deals.create_from_lead(session, principal, lead_id, body)
    return await deals.get(session, principal, deal.id)


@router.get("/{deal_id}", response_model=DealRead)
async def deals_get(deal_id: uuid.UUID, principal: Authenticated, session: Session):
    """One deal: for both parties, the attributed broker and operators (404 for anyone else)."""
    return await deals.get(session, principal, deal_id)


@router.patch("/{deal_id}", response_model=DealRead)
async def deals_update(deal_id: uuid.UUID, body: DealUpdate, principal: Authenticated, session: Session):
    """Edit a draft (the parties, the attributed broker, operators) or amend a signed contract (the
    parties and operators; every amendment is audited with before and after values)."""
    await deals.update(session, principal, deal_id, body)
    return await deals.get(session, principal, deal_id)


@router.post("/{deal_id}/sign", response_model=DealRead)
async def deals_sign(deal_id: uuid.UUID, principal: Authenticated, session: Session):
    """draft → signed (the signing date defaults to today). 409 `deal.illegal_transition` otherwise."""
    await deals.transition(session, principal, deal_id, deals.Action.sign)
    return await deals.get(session, principal, deal_id)


@router.post("/{deal_id}/start", response_model=DealRead)
async def deals_start(deal_id: uuid.UUID, principal: Authenticated, session: Session):
    """signed → performing: the contract is being carried out."""
    await deals.transition(session, principal, deal_id, deals.Action.start)
    return await deals.get(session, principal, deal_id)


@router.post("/{deal_id}/complete", response_model=DealRead)
async def deals_complete(deal_id: uuid.UUID, principal: Authenticated, session: Session):
    """signed or performing → completed."""
    await deals.transition(session, principal, deal_id, deals.Action.complete)
    return await deals.get(session, principal, deal_id)


@router.post("/{deal_id}/terminate", response_model=DealRead)
async def deals_terminate(deal_id: uuid.UUID, body: DealTerminate, principal: Authenticated, session: Session):
    """draft, signed or performing → terminated, with the reason."""
    await deals.transition(session, principal, deal_id, deals.Action.terminate, reason=body.reason)
    return await deals.get(session, principal, deal_id)


# --- obligations ----------------------------------------------------------------------------------------

obligations_router = APIRouter(tags=["deals"])


@obligations_router.get("/v1/deals/{deal_id}/obligations", response_model=list[ObligationRead])
async def obligations_list(deal_id: uuid.UUID, principal: Authenticated, session: Session):
    """The deal's payment schedule, by due date, with each entry's status."""
    return await obligations.list_for_deal(session, principal, deal_id)


@obligations_router.post("/v1/deals/{deal_id}/obligations", response_model=list[ObligationRead],
                         status_code=status.HTTP_201_CREATED)
async def obligations_create(deal_id: uuid.UUID, body: ObligationCreate, principal: Authenticated, session: Session):
    """Add a schedule entry: upfront, milestone (with its deliverable), recurring (one entry per period) or
    royalty (a rate on a base, one entry per reporting period). Fixed amounts never add up to more than
    the contract amount: 422 `obligation.exceeds_amount` on `body.amount`."""
    return await obligations.add(session, principal, deal_id, body)


@obligations_router.patch("/v1/deals/{deal_id}/obligations/{obligation_id}", response_model=ObligationRead)
async def obligations_update(deal_id: uuid.UUID, obligation_id: uuid.UUID, body: ObligationUpdate,
                             principal: Authenticated, session: Session):
    """Reschedule an open entry, or report a royalty period's amount."""
    return await obligations.change(session, principal, deal_id, obligation_id, body)


@obligations_router.post("/v1/deals/{deal_id}/obligations/{obligation_id}/pay", response_model=ObligationRead)
async def obligations_pay(deal_id: uuid.UUID, obligation_id: uuid.UUID, body: ObligationSettle,
                          principal: Authenticated, session: Session):
    """Record a payment (either party, or an operator)."""
    return await obligations.settle(session, principal, deal_id, obligation_id, obligations.Action.pay,
                                    body.paid_on, body.note)


@obligations_router.post("/v1/deals/{deal_id}/obligations/{obligation_id}/waive", response_model=ObligationRead)
async def obligations_waive(deal_id: uuid.UUID, obligation_id: uuid.UUID, body: ObligationWaive,
                            principal: Authenticated, session: Session):
    """Waive an open entry (the seller, as creditor, or an operator), with the reason."""
    return await obligations.settle(session, principal, deal_id, obligation_id, obligations.Action.waive,
                                    note=body.note)


@obligations_router.get("/v1/obligations/overdue", response_model=list[ObligationRead])
async def obligations_overdue(
    principal: Authenticated, session: Session, organisation_id: uuid.UUID | None = None,
    broker_id: uuid.UUID | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
):
    """Overdue payments, oldest first: an organisation sees its own deals', a broker their deals', an
    operator the platform's (filter by `organisation_id` or `broker_id`)."""
    return await obligations.list_overdue(session, principal, organisation_id=organisation_id,
                                          broker_id=broker_id, limit=limit)


# --- registration (技术合同认定登记) ----------------------------------------------------------------------

registration_router = APIRouter(prefix="/v1/deals/{deal_id}", tags=["deals"])


@registration_router.post("/registration/submit", response_model=DealRead)
async def registrations_submit(deal_id: uuid.UUID, body: RegistrationSubmit, principal: Authenticated,
                               session: Session):
    """A party submits the signed contract for registration (unregistered or refused → submitted),
    optionally correcting the technical field and the seller type the registration certifies."""
    await registration.submit(session, principal, deal_id, body)
    return await deals.get(session, principal, deal_id)


@registration_router.post("/registration/register", response_model=DealRead)
async def registrations_record(deal_id: uuid.UUID, body: RegistrationRecord, principal: Operator, session: Session):
    """Record the registration as issued (operators): the number (16 digits, or the older 14; year and
    GB/T 2260 division checked), the date and the certified technical income (核定技术性收入), which the
    statistics then count as 技术交易额."""
    await registration.register(session, principal, deal_id, body)
    return await deals.get(session, principal, deal_id)


@registration_router.post("/registration/refuse", response_model=DealRead)
async def registrations_refuse(deal_id: uuid.UUID, body: RegistrationRefuse, principal: Operator, session: Session):
    """Record that the registration point refused the contract (operators), with its reason."""
    await registration.refuse(session, principal, deal_id, body.reason)
    return await deals.get(session, principal, deal_id)


@registration_router.get("/registration-form", response_model=RegistrationForm,
                         responses={200: {"content": file_content("xlsx"),
                                          "description": "The form's data, as JSON or as an XLSX"}})
async def registrations_form(
    deal_id: uuid.UUID, principal: Authenticated, session: Session,
    format: Annotated[FormFormat, Query(description="json, or xlsx to hand in")] = FormFormat.json,
):
    """The data the 技术合同登记表 asks for, pre-filled from the deal, the parties (with the form's 4-digit
    area codes derived from their regions) and the listings, with `missing` naming what is still unknown."""
    result = await registration.form(session, principal, deal_id)
    if format == "json":
        return result
    sheet = ("技术合同登记表", ["项目", "内容"], registration.form_rows(result))
    body = await asyncio.to_thread(exports.to_xlsx, sheet)
    return Response(body, media_type=MEDIA["xlsx"],
                    headers={"Content-Disposition": f'attachment; filename="registration-{deal_id}.xlsx"'})
