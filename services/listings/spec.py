"""The two lists as ListingSpecs: what both share is written once, driven by these."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListKind, OrgKind
from services import kinds
from services.kinds import Kind
from services.listings.mapping import achievement_columns, achievement_read, need_columns, need_read
from services.listings.rules import consistent_maturity, lead_revealing, lead_worked_by, need_dates_open
from services.principal import Principal


@dataclass(frozen=True)
class ListingSpec:
    """How a list is posted and shown: its kind's description, who posts it, what its API bodies set, who
    sees more of it, its rules."""

    about: Kind
    posters: frozenset[str]  # organisation kinds that post this list
    minor_fields: frozenset[str]  # edits to these keep a published listing published
    columns: Callable[[Any], dict[str, Any]]
    read: Callable[..., Any]
    # the active lead through which a signed-in caller sees a listing's owner and contact, if any
    seen_through_lead: Callable[[AsyncSession, Principal, uuid.UUID], Awaitable[uuid.UUID | None]]
    check_row: Callable[[Any], None] = lambda row: None
    check_publishable: Callable[[Any, date], None] = lambda row, on: None  # at submit and approve

    @property
    def kind(self) -> ListKind:
        return self.about.kind

    @property
    def noun(self) -> str:
        return self.about.noun

    @property
    def table(self) -> type:
        return self.about.table


ACHIEVEMENTS = ListingSpec(
    about=kinds.ACHIEVEMENT,
    posters=frozenset({OrgKind.university, OrgKind.institute, OrgKind.enterprise, OrgKind.agency}),
    minor_fields=frozenset({"contact", "attachments", "team", "external_id", *kinds.ACHIEVEMENT.amount_columns()}),
    columns=achievement_columns, read=achievement_read, seen_through_lead=lead_worked_by,
    check_row=consistent_maturity,
)
NEEDS = ListingSpec(
    about=kinds.NEED,
    posters=frozenset({OrgKind.enterprise, OrgKind.agency, OrgKind.institute, OrgKind.university}),
    minor_fields=frozenset({"contact", "deadline", "external_id", *kinds.NEED.amount_columns()}),
    columns=need_columns, read=need_read, seen_through_lead=lead_revealing, check_publishable=need_dates_open,
)
SPECS = {ListKind.achievements: ACHIEVEMENTS, ListKind.needs: NEEDS}
