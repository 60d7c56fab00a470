"""What differs between the two lists, said once: each module asks the description of a kind (or of a
row) instead of branching on achievements vs needs. Which columns hold the amount, the maturity and
the modes, which text fields a listing is read from, which side of a lead it is, and its counterpart.
"""

from dataclasses import dataclass

from schemas.enums import ListKind
from schemas.tables import Achievement, Need


@dataclass(frozen=True)
class Kind:
    kind: ListKind
    noun: str  # the aggregate type of its audit and outbox rows, the prefix of its problem codes
    table: type
    amount: str  # prefix of the money columns: `price_min`, `budget_negotiable` …
    trl: str  # the maturity column: what the achievement reached, what the need requires
    modes: str  # the transfer (achievement) or cooperation (need) modes column
    secondary_fields: str | None  # the column of further fields, if the kind has one
    summary: str  # the text shown as a listing's summary (a need has none of its own: its description)
    body: tuple[str, ...]  # the text fields after title and keywords, in reading order
    problem: tuple[str, ...]  # the problem side (应用场景, 解决的问题): the buyers' language
    meaning: tuple[str, ...]  # what the sentence encoder reads after title and keywords, problem side first
    learns: bool  # its terms are expanded with what won leads taught
    hides_owner: bool  # may be confidential: its firm is shown only to insiders
    lead_column: str  # its id column on a lead
    rank_column: str  # its rank column on a lead (its own top K)
    counterpart: ListKind
    list_title: str  # the published list's name

    def amount_columns(self) -> tuple[str, str, str]:
        """(negotiable, min, max) column names."""
        return f"{self.amount}_negotiable", f"{self.amount}_min", f"{self.amount}_max"

    def other(self) -> "Kind":
        """The counterpart's description: the list this one is matched against."""
        return KINDS[self.counterpart]


ACHIEVEMENT = Kind(
    kind=ListKind.achievements, noun="achievement", table=Achievement, amount="price", trl="trl",
    modes="transfer_modes", secondary_fields="secondary_fields", summary="summary",
    body=("summary", "application_scenarios", "problems_solved", "description"),
    problem=("application_scenarios", "problems_solved"),
    meaning=("problems_solved", "application_scenarios", "summary", "description"), learns=False, hides_owner=False,
    lead_column="achievement_id", rank_column="achievement_rank", counterpart=ListKind.needs, list_title="成果清单",
)
NEED = Kind(
    kind=ListKind.needs, noun="need", table=Need, amount="budget", trl="required_trl", modes="cooperation_modes",
    secondary_fields=None, summary="description", body=("description",), problem=(), meaning=("description",),
    learns=True, hides_owner=True,
    lead_column="need_id", rank_column="need_rank", counterpart=ListKind.achievements, list_title="需求清单",
)
KINDS = {ListKind.achievements: ACHIEVEMENT, ListKind.needs: NEED}
BY_NOUN = {k.noun: k for k in KINDS.values()}  # an outbox or audit aggregate type -> its kind
BY_TABLE = {k.table: k for k in KINDS.values()}
TABLES = {k.kind: k.table for k in KINDS.values()}  # a list -> its table


def of(kind: ListKind) -> Kind:
    return KINDS[ListKind(kind)]


def of_row(row: Achievement | Need) -> Kind:
    return BY_TABLE[type(row)]
