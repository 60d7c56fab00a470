"""The listing state machine: every legal move, and the illegal ones refused with 409."""

import pytest

from schemas.enums import ListingStatus as S
from services.errors import Conflict
from services.lifecycle import Action, held_for_review, next_status

MINOR = frozenset({"contact", "attachments", "team"})


@pytest.mark.parametrize(("current", "action", "expected"), [
    (S.draft, Action.submit, S.submitted),
    (S.rejected, Action.submit, S.submitted),
    (S.submitted, Action.withdraw, S.draft),
    (S.submitted, Action.approve, S.published),
    (S.submitted, Action.reject, S.rejected),
    (S.published, Action.close, S.closed),
    (S.published, Action.archive, S.archived),
    (S.draft, Action.archive, S.archived),
    (S.closed, Action.reopen, S.draft),
])
def test_legal_transitions(current, action, expected):
    assert next_status(current, action) == expected


@pytest.mark.parametrize(("current", "action"), [
    (S.draft, Action.approve),
    (S.published, Action.approve),
    (S.draft, Action.reject),
    (S.published, Action.submit),
    (S.archived, Action.close),
    (S.submitted, Action.close),
    (S.draft, Action.reopen),
])
def test_illegal_transitions_conflict(current, action):
    with pytest.raises(Conflict) as raised:
        next_status(current, action)
    assert raised.value.code == "listing.illegal_transition"


@pytest.mark.parametrize(("current", "changed", "expected"), [
    (S.published, {"title"}, {"title"}),
    (S.published, {"contact", "team"}, set()),
    (S.published, {"contact", "keywords"}, {"keywords"}),
    (S.draft, {"title"}, set()),
    (S.rejected, {"title"}, set()),
    (S.published, set(), set()),
])
def test_substantive_edits_of_a_published_listing_wait_for_review(current, changed, expected):
    assert held_for_review(current, changed, MINOR) == expected


@pytest.mark.parametrize("current", [S.closed, S.archived])
def test_closed_and_archived_are_not_editable(current):
    with pytest.raises(Conflict):
        held_for_review(current, {"title"}, MINOR)
