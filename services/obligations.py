"""A deal's money over time: the payment schedule (upfront, milestones, recurring, royalties) and its clock.

Each entry is `pending` until it comes within the notice period (`due`), `overdue` the day after its
due date, and ends `paid` or `waived`. Due and overdue are moved by the worker (`tick_obligations`),
never by a request; only signed or performing contracts run their schedule. Fixed amounts never add
up to more than the contract amount (royalties are a rule on a base, so they are not counted).
"""

import calendar
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import String, cast, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.deals import Deal, DealObligation, ObligationRead
from schemas.enums import DealStatus, ObligationKind
from schemas.enums import ObligationStatus as S
from services import audit, outbox
from services.deals import fixed_total, get_row, is_party_writer, local_date, require_writer, visible
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.principal import Principal

RUNNING = (DealStatus.signed, DealStatus.performing)  # contracts whose schedule runs
OPEN = (S.pending, S.due, S.overdue)
MONTHS = {"month": 1, "quarter": 3, "year": 12}


class Action(StrEnum):
    become_due = "become_due"  # the worker
    become_overdue = "become_overdue"  # the worker
    pay = "pay"
    waive = "waive"


TRANSITIONS: dict[Action, tuple[frozenset[S], S]] = {
    Action.become_due: (frozenset({S.pending}), S.due),
    Action.become_overdue: (frozenset({S.pending, S.due}), S.overdue),
    Action.pay: (frozenset(OPEN), S.paid),
    Action.waive: (frozenset(OPEN), S.waived),
}


def next_status(current: S | str, action: Action) -> S:
    allowed_from, to = TRANSITIONS[action]
    if S(current) not in allowed_from:
        raise Conflict(f"cannot {action.value} an obligation that is {S(current).value}",
                       code="obligation.illegal_transition", field="status")
    return to


def clock_status(current: S | str, due_on: date, today: date, notice_days: int) -> S:
    """Where the clock puts an open entry today (pure: the tick does the same in SQL)."""
    current = S(current)
    if current not in (S.pending, S.due):
        return current
    if due_on < today:
        return S.overdue
    if current == S.pending and due_on - timedelta(days=notice_days) <= today:
        return S.due
    return current


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule(body) -> list[dict]:
    """The rows one ObligationCreate becomes: one, or one per period of a recurring or royalty schedule."""
    base = {"kind": body.kind.value, "title": body.title, "deliverable": body.deliverable}
    if body.kind == ObligationKind.recurring:
        step, count = MONTHS[body.recurrence.every], body.recurrence.count
        return [{**base, "due_on": add_months(body.due_on, step * k), "amount": body.amount} for k in range(count)]
    if body.kind == ObligationKind.royalty:
        rule, step = body.royalty, MONTHS[body.royalty.period]
        return [{**base, "due_on": add_months(body.due_on, step * k), "royalty_rate": rule.rate,
                 "royalty_base": rule.base, "period_start": add_months(body.due_on, step * (k - 1)),
                 "period_end": add_months(body.due_on, step * k) - timedelta(days=1)} for k in range(rule.periods)]
    return [{**base, "due_on": body.due_on, "amount": body.amount}]


def obligation_read(row: DealObligation, deal_title: str) -> ObligationRead:
    return ObligationRead(
        id=row.id, deal_id=row.deal_id, deal_title=deal_title, kind=row.kind, title=row.title,
        deliverable=row.deliverable, series_id=row.series_id, due_on=row.due_on, amount=row.amount,
        royalty_rate=row.royalty_rate, royalty_base=row.royalty_base, period_start=row.period_start,
        period_end=row.period_end, status=row.status, paid_on=row.paid_on, note=row.note)


def _values(row: DealObligation) -> dict:
    return {name: getattr(row, name) for name in (
        "kind", "title", "deliverable", "due_on", "amount", "royalty_rate", "royalty_base", "status", "paid_on",
        "note")}


def _check_schedulable(deal: Deal) -> None:
    if deal.status in (DealStatus.completed, DealStatus.terminated):
        raise Conflict(f"a {deal.status} deal's schedule is closed", code="deal.not_editable", field="status")


async def _check_sum(session: AsyncSession, deal: Deal, adding: Decimal, excluding: uuid.UUID | None = None) -> None:
    total = await fixed_total(session, deal.id, excluding) + adding
    if total > deal.amount:
        raise Invalid(f"fixed amounts would add up to {total:.2f}, above the contract amount {deal.amount:.2f}",
                      code="obligation.exceeds_amount", field="body.amount")


async def list_for_deal(session: AsyncSession, principal: Principal, deal_id: uuid.UUID) -> list[ObligationRead]:
    deal, _, _ = await get_row(session, principal, deal_id)
    rows = await session.scalars(select(DealObligation).where(DealObligation.deal_id == deal.id)
                                 .order_by(DealObligation.due_on, DealObligation.id))
    return [obligation_read(row, deal.title) for row in rows]


async def add(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, body) -> list[ObligationRead]:
    deal, _, _ = await get_row(session, principal, deal_id, lock=True)  # the lock serialises the sum rule
    require_writer(principal, deal)
    _check_schedulable(deal)
    entries = schedule(body)
    await _check_sum(session, deal, sum((e.get("amount") or Decimal(0) for e in entries), Decimal(0)))
    series_id = uuid.uuid4() if len(entries) > 1 else None
    rows = [DealObligation(deal_id=deal.id, series_id=series_id, status=S.pending, **entry) for entry in entries]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        audit.record(session, principal, "deal.obligation_added", "deal_obligation", row.id,
                     {"deal_id": str(deal.id), **audit.diff({}, _values(row))})
    return [obligation_read(row, deal.title) for row in rows]


async def _get(session: AsyncSession, principal: Principal, deal_id: uuid.UUID,
               obligation_id: uuid.UUID) -> tuple[Deal, DealObligation]:
    deal, _, _ = await get_row(session, principal, deal_id, lock=True)
    row = await session.get(DealObligation, obligation_id, with_for_update=True)
    if row is None or row.deal_id != deal.id:
        raise NotFound("obligation not found", code="obligation.not_found")
    return deal, row


async def change(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, obligation_id: uuid.UUID,
                 body) -> ObligationRead:
    """Reschedule an open entry, or report a royalty period's amount."""
    deal, row = await _get(session, principal, deal_id, obligation_id)
    require_writer(principal, deal)
    _check_schedulable(deal)
    if row.status not in OPEN:
        raise Conflict(f"a {row.status} obligation is settled", code="obligation.settled", field="status")
    values = body.model_dump(exclude_unset=True)
    if "amount" in values and row.kind != ObligationKind.royalty:
        await _check_sum(session, deal, values["amount"], excluding=row.id)
    before = _values(row)
    for key, value in values.items():
        setattr(row, key, value)
    if "due_on" in values and row.status != S.pending:
        row.status = S.pending  # rescheduled: the clock places it again on its next tick
    row.updated_at = datetime.now(UTC)
    audit.record(session, principal, "deal.obligation_changed", "deal_obligation", row.id,
                 audit.diff(before, _values(row)))
    return obligation_read(row, deal.title)


async def settle(session: AsyncSession, principal: Principal, deal_id: uuid.UUID, obligation_id: uuid.UUID,
                 action: Action, paid_on: date | None = None, note: str | None = None) -> ObligationRead:
    """Paid: recorded by either party or an operator. Waived: only the seller (the creditor) or an operator."""
    deal, row = await _get(session, principal, deal_id, obligation_id)
    allowed = principal.is_operator or (is_party_writer(principal, deal) and (
        action == Action.pay or principal.organisation_id == deal.seller_id))
    if not allowed:
        raise Forbidden("the parties record payments; the seller or an operator waives",
                        code="obligation.write_forbidden")
    if action == Action.pay and row.kind == ObligationKind.royalty and row.amount is None:
        raise Invalid("report the royalty amount before recording its payment", code="obligation.amount_missing",
                      field="body")
    before = _values(row)
    row.status = next_status(row.status, action)
    if action == Action.pay:
        row.paid_on = paid_on or local_date(datetime.now(UTC))
    row.note = note if note is not None else row.note
    row.updated_at = datetime.now(UTC)
    topic = "deal.obligation_paid" if action == Action.pay else "deal.obligation_waived"
    audit.record(session, principal, topic, "deal_obligation", row.id, audit.diff(before, _values(row)))
    outbox.emit(session, topic, "deal", deal.id, {"obligation_id": str(row.id)})
    return obligation_read(row, deal.title)


async def list_overdue(session: AsyncSession, principal: Principal, *, organisation_id: uuid.UUID | None,
                       broker_id: uuid.UUID | None, limit: int) -> list[ObligationRead]:
    """What is overdue in the deals the caller sees: an organisation's, a broker's, or the platform's."""
    stmt = visible(principal, select(DealObligation, Deal.title).join(Deal, Deal.id == DealObligation.deal_id)
                   .where(DealObligation.status == S.overdue))
    if organisation_id is not None:
        stmt = stmt.where((Deal.seller_id == organisation_id) | (Deal.buyer_id == organisation_id))
    if broker_id is not None:
        stmt = stmt.where(Deal.broker_id == broker_id)
    rows = await session.execute(stmt.order_by(DealObligation.due_on, DealObligation.id).limit(limit))
    return [obligation_read(row, title) for row, title in rows]


SYSTEM = Principal(kind="system")


async def tick_obligations(ctx, now: datetime) -> dict[str, int]:
    """The clock: open entries of running contracts become due (within the notice period) and overdue
    (after their due date), each move with its outbox event for the webhooks. Idempotent and safe with
    several workers: an UPDATE moves a row only from the status it expects."""
    today = local_date(now)
    notice = timedelta(days=ctx.settings.obligation_notice_days)
    running = select(Deal.id).where(Deal.status.in_(RUNNING))
    moves = (
        (S.overdue, (S.pending, S.due), DealObligation.due_on < today, "deal.obligation_overdue"),
        (S.due, (S.pending,), DealObligation.due_on <= today + notice, "deal.obligation_due"),
    )
    counts = {}
    async with ctx.sessions() as session, session.begin():
        for to, from_, when, topic in moves:
            moved = (await session.execute(
                update(DealObligation).where(DealObligation.status.in_(from_), when,
                                             DealObligation.deal_id.in_(running))
                .values(status=to, updated_at=now)
                .returning(DealObligation.id, DealObligation.deal_id, DealObligation.due_on, DealObligation.amount,
                           select(array([cast(Deal.seller_id, String), cast(Deal.buyer_id, String)]))
                           .where(Deal.id == DealObligation.deal_id).scalar_subquery())
            )).all()
            for obligation_id, deal_id, due_on, amount, parties in moved:
                audit.record(session, SYSTEM, topic, "deal_obligation", obligation_id,
                             {"status": {"before": None, "after": to.value}})
                outbox.emit(session, topic, "deal", deal_id, {
                    "obligation_id": str(obligation_id), "due_on": due_on.isoformat(),
                    "amount": audit.jsonable(amount), "organisation_ids": parties})  # for the webhooks
            counts[topic] = len(moved)
    return counts
