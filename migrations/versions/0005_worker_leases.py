"""Workers lease the outbox events they claim, and the leads' counterpart refreshes are deduplicated.

A claimed event carries `claimed_until`: a worker that dies mid-batch leaves a lease that runs out, and
its events are claimed again. `need.refresh_requested` / `achievement.refresh_requested` events are
unique among the pending, unclaimed ones, so a burst of edits asks each counterpart for one refresh.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFRESH_PENDING = "processed_at IS NULL AND claimed_until IS NULL AND attempts = 0 AND topic LIKE '%.refresh_requested'"


def upgrade() -> None:
    op.add_column("outboxevent", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ux_outbox_refresh_pending", "outboxevent", ["topic", "aggregate_type", "aggregate_id"],
                    unique=True, postgresql_where=sa.text(REFRESH_PENDING))
    op.create_index("ix_outbox_aggregate_pending", "outboxevent", ["aggregate_type", "aggregate_id"],
                    postgresql_where=sa.text("processed_at IS NULL"))
    op.create_index("ix_outbox_aggregate_processed", "outboxevent", ["aggregate_type", "aggregate_id", "processed_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_aggregate_processed", table_name="outboxevent")
    op.drop_index("ix_outbox_aggregate_pending", table_name="outboxevent")
    op.drop_index("ux_outbox_refresh_pending", table_name="outboxevent")
    op.drop_column("outboxevent", "claimed_until")
