"""The obligation clock and state machine, and how a schedule entry expands (pure logic)."""

from datetime import date

import pytest

from schemas.deals import ObligationCreate
from schemas.enums import ObligationStatus as S
from services.errors import Conflict
from services.obligations import Action, add_months, clock_status, next_status, schedule

TODAY = date(2026, 5, 15)


@pytest.mark.parametrize(("current", "due_on", "expected"), [
    (S.pending, date(2026, 6, 30), S.pending),
    (S.pending, date(2026, 5, 22), S.due),  # within the 7-day notice
    (S.pending, date(2026, 5, 15), S.due),  # due today is not overdue yet
    (S.pending, date(2026, 5, 14), S.overdue),
    (S.due, date(2026, 5, 14), S.overdue),
    (S.due, date(2026, 5, 20), S.due),
    (S.overdue, date(2026, 5, 1), S.overdue),
    (S.paid, date(2026, 5, 1), S.paid),
    (S.waived, date(2026, 5, 1), S.waived),
])
def test_clock(current, due_on, expected):
    assert clock_status(current, due_on, TODAY, notice_days=7) == expected


@pytest.mark.parametrize(("current", "action", "expected"), [
    (S.pending, Action.pay, S.paid), (S.due, Action.pay, S.paid), (S.overdue, Action.pay, S.paid),
    (S.pending, Action.waive, S.waived), (S.overdue, Action.waive, S.waived),
    (S.pending, Action.become_due, S.due), (S.due, Action.become_overdue, S.overdue),
])
def test_legal_moves(current, action, expected):
    assert next_status(current, action) == expected


@pytest.mark.parametrize(("current", "action"), [
    (S.paid, Action.pay), (S.paid, Action.waive), (S.waived, Action.pay), (S.due, Action.become_due),
    (S.overdue, Action.become_due), (S.paid, Action.become_overdue),
])
def test_illegal_moves(current, action):
    with pytest.raises(Conflict):
        next_status(current, action)


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)), (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2026, 5, 15), 12, date(2027, 5, 15)),
])
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_royalty_periods_cover_the_year_before_each_report():
    body = ObligationCreate(kind="royalty", title="提成", due_on="2027-01-31",
                            royalty={"rate": "0.03", "base": "净销售额", "period": "year", "periods": 2})
    rows = schedule(body)
    assert [(r["period_start"], r["period_end"], r["due_on"]) for r in rows] == [
        (date(2026, 1, 31), date(2027, 1, 30), date(2027, 1, 31)),
        (date(2027, 1, 31), date(2028, 1, 30), date(2028, 1, 31))]
