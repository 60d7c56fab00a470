"""`market worker`: drains the outbox (search index, leads, and whatever other modules hook in) and runs
the clock-driven jobs.

Hooking in (one entry each, where HANDLERS and TICKS are defined below):
- `HANDLERS[aggregate_type]: handle_x`, where `async def handle_x(ctx, events: list[OutboxEvent]) -> None`
  opens its own sessions and short transactions, re-reads by id and is idempotent (an event may be handled
  again after a crash). It raises to have the events retried with backoff. Events of an aggregate type
  no handler knows are marked processed.
- `TICKS: [..., tick_x]`, where `async def tick_x(ctx, now: datetime) -> None` is a clock-driven job run
  at most every WORKER_TICK_SECONDS, with `now` from the worker's (injectable) clock.

How a batch goes, so that several workers scale out instead of waiting on each other:
1. claim: one short transaction marks up to WORKER_BATCH_SIZE due events with a lease (`claimed_until`)
   and commits. Claims are taken one worker at a time (a transaction-scoped advisory lock) and skip the
   aggregates another worker holds a live lease on, so one listing is handled by one worker at a time,
   in event order. A worker that dies leaves a lease that runs out; its events are then claimed again.
2. handle: outside any transaction; a handler that needs Meilisearch reads its rows, gives the
   connection back, then calls Meilisearch (no pooled connection waits on it).
3. mark: one short transaction marks the handled events processed, and the failed ones for a retry
   after a backoff (short for Meilisearch being down, so the index catches up within seconds of its return).
A worker told to stop mid-batch hands its claimed events back (`_hand_back`); one that dies leaves its lease.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import aliased

from schemas.enums import ListKind
from schemas.tables import OutboxEvent
from services import idempotency, pipeline, webhooks
from services.db import is_connection_error, plain_url
from services.imports import handle_import_jobs
from services.listings.review import tick_need_deadlines
from services.matching.batch import refresh_listings
from services.matching.outcomes import tick_learn
from services.metrics import observe_index_lag
from services.obligations import tick_obligations
from services.search.client import SearchUnavailable
from services.search.sync import OUTBOX_KINDS, index_listings

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(minutes=5)
SEARCH_DOWN_BACKOFF = timedelta(seconds=5)  # cap while Meilisearch is unreachable: catch up soon after it returns
HAND_BACK_SECONDS = 5  # a stopping worker's wait to give its claimed events back (`_hand_back`)
CLAIM_LOCK = 0x6F7574626F78  # advisory lock key ("outbox"): claims are taken one worker at a time

Handler = Callable[..., Awaitable[None]]
Tick = Callable[..., Awaitable[None]]
Clock = Callable[[], datetime]


def backoff(attempts: int, exc: BaseException | None = None) -> timedelta:
    cap = SEARCH_DOWN_BACKOFF if isinstance(exc, SearchUnavailable) else MAX_BACKOFF
    return min(timedelta(seconds=2 ** min(attempts, 10)), cap)


async def handle_listings(ctx, events: list[OutboxEvent]) -> None:
    """A listing changed: sync its index copy, refresh its leads and ask for its counterparts' refresh.
    A refresh request (`*.refresh_requested`): refresh that listing's leads only."""
    changed: dict[ListKind, set[uuid.UUID]] = {kind: set() for kind in ListKind}
    refresh: dict[ListKind, set[uuid.UUID]] = {kind: set() for kind in ListKind}
    for event in events:
        target = refresh if event.topic.endswith(".refresh_requested") else changed
        target[OUTBOX_KINDS[event.aggregate_type]].add(uuid.UUID(event.aggregate_id))
    for kind, ids in changed.items():
        await index_listings(ctx, kind, ids)
    indexed_at = datetime.now(UTC)
    for event in events:  # publish → searchable, for /metrics
        if not event.topic.endswith(".refresh_requested"):
            observe_index_lag(event.aggregate_type, (indexed_at - event.created_at).total_seconds())
    for kind in ListKind:  # each list's listings matched together (terms asked once for the batch)
        await refresh_listings(ctx, kind, changed[kind], fan_out=True)
        await refresh_listings(ctx, kind, refresh[kind] - changed[kind])


def chain(*handlers: Handler) -> Handler:
    """Several modules' handlers of one aggregate type, run in order on the same events."""
    async def run(ctx, events: list[OutboxEvent]) -> None:
        for handler in handlers:
            await handler(ctx, events)

    return run


# A listing change first reaches search and the leads, then the routing offers its new pool leads.
HANDLERS: dict[str, Handler] = {
    **{noun: chain(handle_listings, pipeline.handle_lead_routing) for noun in OUTBOX_KINDS},
    "import_job": handle_import_jobs,
    "lead": webhooks.handle_webhooks, "introduction": webhooks.handle_webhooks, "deal": webhooks.handle_webhooks,
}
TICKS: list[Tick] = [tick_need_deadlines, tick_obligations, tick_learn, pipeline.tick_lead_routing,
                     webhooks.tick_webhook_deliveries, idempotency.tick_prune]


def _at(clock: Clock | None):
    """The worker's notion of now in SQL: the injected clock, or the database's (so that workers on
    machines with skewed clocks agree)."""
    return func.now() if clock is None else clock()


async def claim(ctx, clock: Clock | None = None, include_delayed: bool = False,
                skip: set[int] | frozenset = frozenset()) -> list[OutboxEvent]:
    """Lease a batch of due events (see the module docstring) in one short transaction."""
    now = _at(clock)
    lease = timedelta(seconds=ctx.settings.worker_lease_seconds)
    held = aliased(OutboxEvent)
    async with ctx.sessions() as session, session.begin():
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
        leased = select(held.id).where(
            held.aggregate_type == OutboxEvent.aggregate_type, held.aggregate_id == OutboxEvent.aggregate_id,
            held.processed_at.is_(None), held.claimed_until > now)
        stmt = (select(OutboxEvent.id).where(
            OutboxEvent.processed_at.is_(None),
            or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until <= now),
            ~leased.exists())
            # Changes before refresh requests: a published listing becomes searchable without waiting
            # behind the lead recomputations that earlier publishes fanned out (a refresh reads the
            # listing as it is when handled, so its place in line does not matter).
            .order_by(OutboxEvent.topic.like("%.refresh_requested"), OutboxEvent.id)
            .limit(ctx.settings.worker_batch_size).with_for_update(skip_locked=True))
        if not include_delayed:
            stmt = stmt.where(OutboxEvent.available_at <= now)
        if skip:
            stmt = stmt.where(OutboxEvent.id.not_in(skip))
        ids = list((await session.scalars(stmt)).all())
        if not ids:
            return []
        claimed = await session.scalars(
            update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(claimed_until=now + lease)
            .returning(OutboxEvent).execution_options(synchronize_session=False))
        return sorted(claimed.all(), key=lambda e: e.id)


async def _handle(ctx, events: list[OutboxEvent]) -> dict[int, BaseException]:
    """Run the handlers, one aggregate type at a time; returns the failed events' errors. A group that
    fails is retried event by event, so one event that keeps failing does not hold back the others."""
    failed: dict[int, BaseException] = {}
    groups: dict[str, list[OutboxEvent]] = {}
    for event in events:
        groups.setdefault(event.aggregate_type, []).append(event)
    for aggregate_type, group in groups.items():
        handler = HANDLERS.get(aggregate_type)
        if handler is None:
            continue  # nobody needs it: marked processed
        try:
            await handler(ctx, group)
            continue
        except Exception as exc:
            if is_connection_error(exc) or len(group) == 1:
                failed.update({event.id: exc for event in group})
                continue
        for event in group:
            try:
                await handler(ctx, [event])
            except Exception as exc:
                failed[event.id] = exc
    return failed


async def _mark(ctx, events: list[OutboxEvent], failed: dict[int, BaseException], clock: Clock | None) -> None:
    now = _at(clock)
    done = [e.id for e in events if e.id not in failed]
    async with ctx.sessions() as session, session.begin():
        if done:
            await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(done))
                                  .values(processed_at=now, claimed_until=None))
        for event in events:
            if event.id in failed:
                exc = failed[event.id]
                log.warning("outbox event %s failed, will retry: %s", event.id, exc,
                            exc_info=not isinstance(exc, SearchUnavailable))
                await session.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(
                    attempts=OutboxEvent.attempts + 1, claimed_until=None,
                    available_at=now + backoff(event.attempts + 1, exc),
                    last_error=f"{type(exc).__name__}: {exc}"[:500]))
        # Tells listeners (tests, monitoring) at commit that a batch reached Meilisearch and the leads.
        await session.execute(text("SELECT pg_notify('outbox_drained', :count)"), {"count": str(len(events))})


async def _hand_back(ctx, events: list[OutboxEvent]) -> None:
    """A worker told to stop mid-batch gives its unfinished events back to the queue, so that the next worker
    takes them at once rather than when the lease runs out (a deploy restarts every worker). Best effort, and
    brief: a worker that cannot reach the database leaves its leases to run out."""
    try:
        async with asyncio.timeout(HAND_BACK_SECONDS), ctx.sessions() as session, session.begin():
            await session.execute(update(OutboxEvent).where(
                OutboxEvent.id.in_([e.id for e in events]), OutboxEvent.processed_at.is_(None))
                .values(claimed_until=None))
    except Exception as exc:
        log.warning("could not hand %s claimed events back; their lease will run out: %s", len(events), exc)


async def drain_batch(ctx, include_delayed: bool = False, clock: Clock | None = None,
                      skip: set[int] | None = None) -> int:
    """Claim, handle and mark one batch; returns how many events were claimed. The ids that failed are
    added to `skip`, so one drain tries each event at most once, whatever the clock does meanwhile."""
    events = await claim(ctx, clock, include_delayed, skip or frozenset())
    if not events:
        return 0
    try:
        failed = await _handle(ctx, events)
    except (asyncio.CancelledError, KeyboardInterrupt):
        await _hand_back(ctx, events)
        raise
    await _mark(ctx, events, failed, clock)
    if skip is not None:
        skip.update(failed)
    return len(events)


async def drain(ctx, include_delayed: bool = False, clock: Clock | None = None) -> int:
    """Drain until nothing is due (tests and `market worker --once` wait on this, not on the clock).
    Each event is tried at most once per drain: a failed one waits for its backoff and the next drain."""
    total = 0
    failed: set[int] = set()
    while handled := await drain_batch(ctx, include_delayed, clock, failed):
        total += handled
    return total


async def run_ticks(ctx, now: datetime) -> None:
    """Every clock-driven job once; one failing does not stop the others."""
    for tick in TICKS:
        try:
            await tick(ctx, now)
        except Exception:
            log.exception("worker tick %s failed", getattr(tick, "__name__", tick))


async def _listen(settings, wake: asyncio.Event) -> asyncpg.Connection | None:
    """Committed outbox rows NOTIFY (migration 0002): a new event wakes us at once. Without a listener
    (database down) the worker polls every WORKER_IDLE_SECONDS until it can listen again."""
    try:
        listener = await asyncpg.connect(plain_url(settings.database_url), timeout=10)
        await listener.add_listener("outbox", lambda *_: wake.set())
        listener.add_termination_listener(lambda *_: wake.set())
        return listener
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("worker cannot listen for outbox events yet: %s", exc)
        return None


async def run_worker(settings, once: bool = False, clock: Clock | None = None) -> None:
    """The worker loop. PostgreSQL or Meilisearch being down is waited out with a backoff, never a
    reason to exit: the process carries on once they are back."""
    from services.context import ServiceContext

    clock = clock or (lambda: datetime.now(UTC))
    async with ServiceContext.open(settings, pool_size=4) as ctx:
        try:
            await ctx.search.ensure()
        except SearchUnavailable:  # events wait in the outbox; the drain retries until it is back
            log.warning("Meilisearch unavailable at start")
        wake = asyncio.Event()
        listener = None
        next_tick = clock()
        failures = 0
        log.info("worker started")
        try:
            while True:
                if listener is None or listener.is_closed():
                    listener = await _listen(settings, wake)
                wake.clear()
                try:
                    handled = await drain(ctx)
                    if clock() >= next_tick:
                        next_tick = clock() + timedelta(seconds=settings.worker_tick_seconds)
                        await run_ticks(ctx, clock())
                    failures = 0
                except Exception as exc:
                    if not is_connection_error(exc):
                        raise
                    failures += 1
                    pause = min(2 ** failures, 30)
                    log.warning("database unavailable, worker retries in %s s: %s", pause, exc)
                    await asyncio.sleep(pause)
                    continue
                if once:
                    log.info("drained %s events", handled)
                    return
                if not handled:
                    idle = settings.worker_idle_seconds if listener else min(settings.worker_idle_seconds, 2)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), min(idle, settings.worker_tick_seconds))
        finally:
            if listener is not None and not listener.is_closed():
                with contextlib.suppress(Exception):
                    await listener.close()

