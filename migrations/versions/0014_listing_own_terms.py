"""A listing's own query terms kept beside its vector: a live match no longer segments the listing's text.

Existing listings get theirs when the worker next indexes them, or by `market reindex`; until then a match
picks them as before.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("listing_vector", sa.Column("terms_key", sa.String(), nullable=True))
    op.add_column("listing_vector", sa.Column("terms", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("listing_vector", "terms")
    op.drop_column("listing_vector", "terms_key")
