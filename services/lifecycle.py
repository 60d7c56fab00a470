"""The review lifecycle of a listing, as a pure state machine (unit-tested on its own).

draft → submitted → published, or → rejected (with a reason) and back through submit;
published → closed (need fulfilled / achievement transferred) or archived. A substantive edit to a
published listing waits for review as a revision while the published version stays live; minor
fields change at once.
"""

from enum import StrEnum

from schemas.enums import ListingStatus as S
from services.errors import Conflict


class Action(StrEnum):
    submit = "submit"
    withdraw = "withdraw"
    approve = "approve"
    reject = "reject"
    close = "close"
    archive = "archive"
    reopen = "reopen"


# action -> (statuses it applies to, resulting status, who may do it)
TRANSITIONS: dict[Action, tuple[frozenset[S], S, str]] = {
    Action.submit: (frozenset({S.draft, S.rejected}), S.submitted, "owner"),
    Action.withdraw: (frozenset({S.submitted}), S.draft, "owner"),
    Action.approve: (frozenset({S.submitted}), S.published, "operator"),
    Action.reject: (frozenset({S.submitted}), S.rejected, "operator"),
    Action.close: (frozenset({S.published}), S.closed, "owner"),
    Action.archive: (frozenset({S.draft, S.rejected, S.published, S.closed}), S.archived, "owner"),
    Action.reopen: (frozenset({S.archived, S.closed}), S.draft, "owner"),
}
EDITABLE = frozenset({S.draft, S.submitted, S.rejected, S.published})
TOPICS = {  # the effect each action records in the outbox, `noun.past_verb`
    Action.submit: "submitted", Action.withdraw: "withdrawn", Action.approve: "published",
    Action.reject: "rejected", Action.close: "closed", Action.archive: "archived", Action.reopen: "reopened",
}


def next_status(current: S | str, action: Action) -> S:
    allowed_from, to, _ = TRANSITIONS[action]
    if S(current) not in allowed_from:
        raise Conflict(f"cannot {action.value} a listing that is {S(current).value}",
                       code="listing.illegal_transition", field="status")
    return to


def held_for_review(current: S | str, changed: set[str], minor_fields: frozenset[str]) -> set[str]:
    """The changed fields that wait for review as a revision: a published listing's substance (the live
    version stays as it is meanwhile); nothing on a listing that is not published."""
    current = S(current)
    if current not in EDITABLE:
        raise Conflict(f"a {current.value} listing cannot be edited; reopen it first",
                       code="listing.not_editable", field="status")
    return changed - minor_fields if current == S.published else set()
