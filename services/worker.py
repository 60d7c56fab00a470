"""`market worker`: drains the outbox into Meilisearch and the matching engine.

Several workers, on several machines, can run at once: each claims a batch with
`FOR UPDATE SKIP LOCKED`, so no event is handled twice at the same time, and handlers are idempotent
(they re-read the listing by id), so a retry after a crash does no harm. A failed batch is retried
with exponential backoff; nothing is dropped.
"""

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import func, select, text

from schemas.enums import ListKind
from schemas.tables import OutboxEvent
from services import pipeline, webhooks
from services.db import plain_url
from services.matching.refresh import refresh_for_listings
from services.obligations import tick_obligations
from services.search.client import SearchUnavailable
from services.search.sync import OUTBOX_KINDS, sync_listings

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(minutes=5)
# Handlers of other aggregates' events, by outbox aggregate_type: `async def handle_x(ctx, events)`, each
# opens its own session and is idempotent. Clock-driven jobs: `async def tick_x(ctx, now)`.
HANDLERS = {
    "need": pipeline.handle_lead_routing, "achievement": pipeline.handle_lead_routing,
    "lead": webhooks.handle_webhooks, "introduction": webhooks.handle_webhooks,
    "deal": webhooks.handle_webhooks,
}
TICKS = [pipeline.tick_lead_routing, webhooks.tick_webhook_deliveries, tick_obligations]


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


async def drain_batch(ctx, include_delayed: bool = False) -> int:
    """Handle one batch of pending events; returns how many were claimed. Times are the database's
    clock (`now()`), never a worker machine's, so workers with skewed clocks agree."""
    now = func.now()
    async with ctx.sessions() as session, session.begin():
        stmt = (select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
                .order_by(OutboxEvent.id).limit(ctx.settings.worker_batch_size)
                .with_for_update(skip_locked=True))
        if not include_delayed:
            stmt = stmt.where(OutboxEvent.available_at <= now)
        events = list((await session.scalars(stmt)).all())
        if not events:
            return 0
        # The whole batch at once; if that fails, each event on its own, so one event that keeps failing
        # does not hold back the others. A failed event waits (backoff) and is tried again, never dropped.
        groups = [events] if len(events) == 1 else [events, *([e] for e in events)]
        pending = {event.id for event in events}
        for group in groups:
            if not pending.issuperset(event.id for event in group):
                continue
            try:
                async with session.begin_nested():  # a failure rolls back to here; the events stay writable
                    await handle(ctx, session, group)
            except Exception as exc:
                log.warning("outbox events failed, will retry: %s", exc, exc_info=not _expected(exc))
                if len(group) == 1:
                    event = group[0]
                    event.attempts += 1
                    event.available_at = now + backoff(event.attempts)
                    event.last_error = f"{type(exc).__name__}: {exc}"[:500]
                continue
            for event in group:
                event.processed_at = now
                pending.discard(event.id)
        # Tells listeners (tests, monitoring) at commit that a batch reached Meilisearch and the leads.
        await session.execute(text("SELECT pg_notify('outbox_drained', :count)"), {"count": str(len(events))})
        return len(events)


def _expected(exc: Exception) -> bool:
    return isinstance(exc, SearchUnavailable)


async def handle(ctx, session, events: list[OutboxEvent]) -> None:
    """Listing events: sync each listing once, then refresh the leads it affects."""
    listings: dict[ListKind, set[uuid.UUID]] = {kind: set() for kind in ListKind}
    for event in events:
        if event.aggregate_type in OUTBOX_KINDS:
            listings[OUTBOX_KINDS[event.aggregate_type]].add(uuid.UUID(event.aggregate_id))
    # Two workers may hold events of the same listing (an edit, then an archive): one at a time per
    # listing, so the later one re-reads the row after the earlier one committed. Sorted: no deadlock.
    for kind in ListKind:
        for listing_id in sorted(listings[kind]):
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                                  {"key": f"{kind.value}:{listing_id}"})
    for kind, ids in listings.items():
        await sync_listings(session, ctx.search, kind, ids)
    await refresh_for_listings(ctx, session, listings)
    for aggregate_type, handler in HANDLERS.items():
        if selected := [event for event in events if event.aggregate_type == aggregate_type]:
            await handler(ctx, selected)


async def drain(ctx, include_delayed: bool = False) -> int:
    """Drain until nothing is pending (tests and `market worker --once` wait on this, not on the clock)."""
    total = 0
    while handled := await drain_batch(ctx, include_delayed):
        total += handled
        include_delayed = False  # one pass over delayed events, then only what is due
    return total


async def run_worker(settings, once: bool = False) -> None:
    from services.context import ServiceContext

    async with ServiceContext.open(settings, pool_size=4) as ctx:
        try:
            await ctx.search.ensure()
        except SearchUnavailable:  # events wait in the outbox; the drain retries until it is back
            log.warning("Meilisearch unavailable at start")
        # Committed outbox rows NOTIFY (migration 0002): a new event wakes us at once; the timeout is
        # only there for retries whose backoff has run out.
        wake = asyncio.Event()
        listener = await asyncpg.connect(plain_url(settings.database_url))
        await listener.add_listener("outbox", lambda *_: wake.set())
        log.info("worker started")
        try:
            while True:
                wake.clear()
                handled = await drain(ctx)
                for tick in TICKS:
                    await tick(ctx, datetime.now(UTC))
                if once:
                    log.info("drained %s events", handled)
                    return
                if not handled:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), settings.worker_idle_seconds)
        finally:
            await listener.close()
