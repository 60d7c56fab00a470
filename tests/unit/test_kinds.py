"""Each list kind's description names columns its table has, and the two kinds point at each other."""

import pytest

from schemas.tables import Lead
from services import kinds


@pytest.mark.parametrize("about", list(kinds.KINDS.values()), ids=lambda k: k.noun)
def test_a_kind_names_columns_of_its_table(about):
    columns = set(about.table.__table__.columns.keys())
    named = {about.trl, about.modes, about.summary, *about.amount_columns(), *about.body, *about.problem,
             *about.meaning, *([about.secondary_fields] if about.secondary_fields else [])}
    assert named <= columns
    assert {about.lead_column, about.rank_column} <= set(Lead.__table__.columns.keys())


@pytest.mark.parametrize("about", list(kinds.KINDS.values()), ids=lambda k: k.noun)
def test_a_kind_is_found_by_its_list_its_row_and_its_noun(about):
    assert kinds.of(about.kind) is about
    assert kinds.of_row(about.table()) is about
    assert kinds.BY_NOUN[about.noun] is about
    assert about.other().other() is about
