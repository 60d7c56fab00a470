"""The transactional outbox: effects recorded in the writer's transaction, drained by workers.

Because the row commits (or rolls back) with the write, nothing committed is ever lost on its way
to Meilisearch or the matching engine, and nothing rolled back ever reaches them.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.tables import OutboxEvent


def emit(session: AsyncSession, topic: str, aggregate_type: str, aggregate_id: Any,
         payload: dict[str, Any] | None = None) -> None:
    session.add(OutboxEvent(topic=topic, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id),
                            payload=payload or {}))
