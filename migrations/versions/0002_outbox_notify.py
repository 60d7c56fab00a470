"""Wake the workers when outbox events commit (LISTEN/NOTIFY), instead of waiting for their poll.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox', '');  -- delivered at commit, once per transaction
            RETURN NULL;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER outbox_notify AFTER INSERT ON outboxevent
        FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_notify ON outboxevent")
    op.execute("DROP FUNCTION notify_outbox()")
