"""The deal state machine: every legal move, and the illegal ones refused with 409."""

import pytest

from schemas.enums import DealStatus as S
from services.deals import TRANSITIONS, Action, next_status
from services.errors import Conflict

LEGAL = [
    (S.draft, Action.sign, S.signed),
    (S.signed, Action.start, S.performing),
    (S.signed, Action.complete, S.completed),
    (S.performing, Action.complete, S.completed),
    (S.draft, Action.terminate, S.terminated),
    (S.signed, Action.terminate, S.terminated),
    (S.performing, Action.terminate, S.terminated),
]


@pytest.mark.parametrize(("current", "action", "expected"), LEGAL)
def test_legal_transitions(current, action, expected):
    assert next_status(current, action) == expected


@pytest.mark.parametrize(("current", "action"), [
    (current, action) for current in S for action in Action
    if (current, action) not in {(c, a) for c, a, _ in LEGAL}
])
def test_illegal_transitions_are_conflicts(current, action):
    with pytest.raises(Conflict) as raised:
        next_status(current, action)
    assert raised.value.code == "deal.illegal_transition"


def test_closed_deals_have_no_way_out():
    for allowed_from, _ in TRANSITIONS.values():
        assert S.completed not in allowed_from and S.terminated not in allowed_from
