"""`market match --all`: recompute the leads of every published listing, in batches that share work.

Per batch of listings of one list: their rows and stored vectors in one query, their terms (off the
loop), each distinct term asked once a run (`TermAnswers`: a term many listings use costs one query),
their nearest counterparts by one matrix product over the other list's vectors (`Neighbours`; the
worker's small batches send their vector queries in one multi-search instead), scoring, then the
batch's leads written in one transaction.
Needs first, then achievements: within a phase no two listings touch the same lead rows, so the
concurrent batches never wait on (or deadlock with) each other.
"""

import asyncio
import contextlib
import multiprocessing
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import ListingVector
from services import kinds
from services.context import ServiceContext
from services.matching.engine import MIN_SIMILARITY, Match, counterpart, fuse, term_query, vector_query
from services.matching.nearest import Documents, Nearest, vector_hits
from services.matching.offload import off_the_loop
from services.matching.outcomes import associations
from services.matching.refresh import request_refresh, write
from services.matching.scoring import Weights
from services.matching.terms import terms_of_row
from services.matching.vectors import STORED, current_terms, vectors_and_terms
from services.metrics import LEAD_RECOMPUTATION_SECONDS, timed
from services.progress import SILENT, Progress
from services.search.client import SearchError

BATCH = 100  # listings of one list scored and written together
CONCURRENCY = 2  # batches at a time: one computes while the other waits on Meilisearch or PostgreSQL
CHUNK = 1000  # listings a process of `match --all` is given at a time (progress is reported per chunk)
QUERIES_PER_REQUEST = 100  # term or vector queries in one multi-search request
TERM_ANSWERS = 4000  # the most recently used answers kept (each up to 50 hits): ~100-200 MB at most


class TermAnswers:
    """A run's answers to the term queries against one list, each distinct term asked once (and again
    only if it fell out of the most recently used TERM_ANSWERS). Concurrent batches wanting the same
    term wait on the one request that asks it."""

    def __init__(self, search, other: ListKind):
        self.search, self.other = search, other
        self._answers: OrderedDict[str, asyncio.Future] = OrderedDict()
        # The documents' rows for the bulk estimate (engine.rank), by id: a run's answers are one snapshot of
        # the other list, so a document's row is made once (~0.5 KB each: 100,000 documents ~50 MB).
        self.encoded: dict[str, tuple] = {}

    async def get(self, terms: Iterable[str]) -> dict[str, dict]:
        terms = set(terms)
        missing = sorted(t for t in terms if t not in self._answers)
        loop = asyncio.get_running_loop()
        self._answers.update((term, loop.create_future()) for term in missing)
        wanted = {term: self._answers[term] for term in terms}  # before any wait: eviction cannot lose one
        for term in terms:
            self._answers.move_to_end(term)
        while len(self._answers) > TERM_ANSWERS:
            self._answers.popitem(last=False)
        try:
            for start in range(0, len(missing), QUERIES_PER_REQUEST):
                chunk = missing[start:start + QUERIES_PER_REQUEST]
                response = await self.search.client.multi_search(
                    [term_query(self.search, self.other, term) for term in chunk])
                for term, result in zip(chunk, response["results"], strict=True):
                    wanted[term].set_result(result)
        except BaseException as exc:
            for term in missing:
                if not wanted[term].done():
                    wanted[term].set_exception(exc)
                    wanted[term].exception()  # marked as retrieved: the batch that asked raises it
                    if self._answers.get(term) is wanted[term]:
                        del self._answers[term]  # a later batch asks again
            raise
        return {term: await future for term, future in wanted.items()}


@dataclass
class Neighbours:
    """A phase's vector candidates found in memory (`match --all`), instead of a vector query each."""

    nearest: Nearest
    documents: Documents

    @classmethod
    def of(cls, ctx, other: ListKind) -> "Neighbours":
        return cls(Nearest(ctx.sessions, other), Documents(ctx.search, other))

    async def hits(self, rows: list, vectors: dict, term_results: dict[str, dict], pool: int) -> list[list[dict]]:
        """Each listing's vector hits, as a vector query would have returned them."""
        similar = await self.nearest.similar([(row.organisation_id, vectors[row.id]) for row in rows], pool)
        known = {hit["id"]: hit for result in term_results.values() for hit in result["hits"]}
        documents = await self.documents.get(
            {doc_id for found in similar for doc_id, cosine in found if cosine >= MIN_SIMILARITY}, known)
        return [vector_hits(found, documents) for found in similar]


async def compute(ctx, kind: ListKind, ids: list, answers: TermAnswers, learned: dict[str, list[str]],
                  neighbours: Neighbours | None = None) -> dict[uuid.UUID, list[Match]]:
    """The matches of the published ones of these listings of one list, computed together (no
    transaction open, no connection held while Meilisearch answers). With `neighbours`, the vector
    candidates come from memory, else from one vector query per listing."""
    settings, search = ctx.settings, ctx.search
    table = kinds.TABLES[kind]
    weights = Weights.from_settings(settings)
    pool = settings.match_semantic_pool if weights.semantic else 0
    async with ctx.sessions() as session:
        found = (await session.execute(select(table, *STORED).outerjoin(
            ListingVector, ListingVector.listing_id == table.id).where(table.id.in_(ids)))).all()
    published = [(entry[0], tuple(entry[1:])) for entry in found if entry[0].status == ListingStatus.published]
    rows = [row for row, _ in published]
    if pool:
        derived = await vectors_and_terms(ctx.sessions, kind, published)
        vectors = {listing_id: vector for listing_id, (vector, _) in derived.items()}
        own = [derived[row.id][1] for row in rows]
    else:
        vectors, own = {}, [current_terms(row, stored) for row, stored in published]
    terms = await off_the_loop(lambda chunk: [terms_of_row(row, learned, mine) for row, mine in chunk],
                               list(zip(rows, own, strict=True)))
    try:
        term_results = await answers.get(term.term for listing_terms in terms for term in listing_terms)
        hits: list = [None] * len(rows)
        if pool and neighbours is not None:
            hits = await neighbours.hits(rows, vectors, term_results, pool)
        for start in range(0, len(rows) if pool and neighbours is None else 0, QUERIES_PER_REQUEST):
            chunk = rows[start:start + QUERIES_PER_REQUEST]
            response = await search.client.multi_search(
                [vector_query(search, kind, row, vectors[row.id], pool) for row in chunk])
            hits[start:start + len(chunk)] = [result["hits"] for result in response["results"]]
        fused = await off_the_loop(lambda chunk: [
            fuse(search.owner_key(row.organisation_id), kind, row, listing_terms,
                 [term_results[t.term] for t in listing_terms], found, pool, weights, settings.match_top_k,
                 answers.encoded)
            for row, listing_terms, found in chunk], list(zip(rows, terms, hits, strict=True)))
        matches = {row.id: ranked for row, ranked in zip(rows, fused, strict=True)}
    except SearchError as exc:
        if exc.code != "index_not_found":
            raise
        matches = {row.id: [] for row in rows}  # the other list has no index yet: no matches
    return matches


async def match_batch(ctx, kind: ListKind, ids: list, answers: TermAnswers, learned: dict[str, list[str]],
                      neighbours: Neighbours | None = None) -> None:
    """One batch of `match --all`: matched together, their leads written set-wise in one transaction
    (`write`: lock order, retirement, dismissals). Within a phase no two listings share a lead row, so
    the batches never wait on each other."""
    matches = await compute(ctx, kind, ids, answers, learned, neighbours)
    async with ctx.sessions() as session, session.begin():
        await write(session, kind, {listing_id: matches.get(listing_id) for listing_id in ids})


@timed(LEAD_RECOMPUTATION_SECONDS)
async def refresh_listings(ctx, kind: ListKind, ids: Iterable[uuid.UUID], fan_out: bool = False) -> None:
    """The worker's recomputation of listings of one list (the events of a batch): matched together as
    `match --all` does, then each listing's leads written in its own short transaction, since another
    worker may be writing listings of the other list meanwhile (two listings share at most one lead row,
    so one per transaction never waits in a cycle). With `fan_out`, the counterparts each one touched
    get a deduplicated refresh request in the same transaction."""
    table = kinds.TABLES[kind]
    async with ctx.sessions() as session:  # a listing never published has no leads to write or retire
        ids = sorted((await session.scalars(select(table.id).where(
            table.id.in_(set(ids)), table.published_at.is_not(None)))).all())
        if not ids:
            return
        learned = await associations(session)
    matches = await compute(ctx, kind, ids, TermAnswers(ctx.search, counterpart(kind)), learned)
    for listing_id in ids:
        async with ctx.sessions() as session, session.begin():
            touched = await write(session, kind, {listing_id: matches.get(listing_id)})
            if fan_out:
                await request_refresh(session, counterpart(kind), touched)


async def match_all(ctx, progress: Progress = SILENT, limit: int | None = None, processes: int = 1) -> int:
    """Every published need and achievement (or the first `limit` of each list, for a benchmark). With
    `processes` > 1, each phase's listings are matched by that many processes (`Phase`), so the Python work
    (terms, scoring), which one process does on one core, uses them all."""
    work: dict[ListKind, list] = {}
    async with ctx.sessions() as session:
        for kind, table in kinds.TABLES.items():
            work[kind] = list((await session.scalars(select(table.id).where(
                table.status == ListingStatus.published).order_by(table.id).limit(limit))).all())
        learned = await associations(session)
    progress.start(sum(len(ids) for ids in work.values()))
    if processes <= 1:
        for phase in ListKind.needs, ListKind.achievements:
            await Phase(ctx, phase, learned).run(work[phase], progress)
        return sum(len(ids) for ids in work.values())
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        for phase in ListKind.needs, ListKind.achievements:  # the needs done before any achievement starts
            ids = work[phase]
            chunks = [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]
            for done in asyncio.as_completed([loop.run_in_executor(pool, _in_process, ctx.settings, phase, chunk,
                                                                   learned) for chunk in chunks]):
                progress.advance(await done)
    return sum(len(ids) for ids in work.values())


class Phase:
    """One phase of `match --all`: listings of one list matched against the other, the run's term answers
    and the other list's vectors shared by all its batches."""

    def __init__(self, ctx, kind: ListKind, learned: dict[str, list[str]]):
        self.ctx, self.kind, self.learned = ctx, kind, learned
        self.answers = TermAnswers(ctx.search, counterpart(kind))
        self.neighbours = Neighbours.of(ctx, counterpart(kind))

    async def run(self, ids: list, progress: Progress = SILENT) -> int:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(chunk: list) -> None:
            async with gate:
                await match_batch(self.ctx, self.kind, chunk, self.answers, self.learned, self.neighbours)
                progress.advance(len(chunk))

        await asyncio.gather(*(one(ids[start:start + BATCH]) for start in range(0, len(ids), BATCH)))
        return len(ids)


_process: dict = {}  # in a `match --all` process: its event loop, service context and current Phase


def _in_process(settings, kind: ListKind, ids: list, learned: dict[str, list[str]]) -> int:
    """A chunk of a phase in one of `match_all`'s processes, which keeps its connections, and the phase's
    answers and vectors, from one chunk to the next (it exits with the run)."""
    if not _process:
        _process["loop"] = loop = asyncio.new_event_loop()
        _process["open"] = opened = contextlib.AsyncExitStack()  # kept: collecting it would close the context
        _process["ctx"] = loop.run_until_complete(
            opened.enter_async_context(ServiceContext.open(settings, pool_size=CONCURRENCY + 1)))
    if getattr(_process.get("phase"), "kind", None) != kind:
        _process["phase"] = None  # the previous phase's vectors go before the next phase's load
        _process["phase"] = Phase(_process["ctx"], kind, learned)
    return _process["loop"].run_until_complete(_process["phase"].run(ids))
