"""Live matching: one plain multi-search (one request, one query per term) against the other list,
the ranking scores combined per document, then the structured fit.

Why not federated search: a federated list keeps each document once with its best weighted score,
so a document matching many of a need's terms would rank no higher than one matching only the best
term. We combine the per-term scores ourselves as a noisy-OR: every matched term adds evidence,
saturating towards 1.
"""

import asyncio
import functools
import heapq
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter

import numpy as np
from sqlalchemy import ARRAY, Uuid, any_, bindparam, func, inspect, select

from schemas.enums import ListKind
from schemas.matching import MatchReasons
from schemas.tables import Achievement, ListingVector, Need
from services import kinds
from services.db import DriverRead, detached
from services.errors import NotFound
from services.matching import ENGINE_VERSION, bulk
from services.matching.outcomes import LEARNED_VERSION, associations, dismissal_reason, lower_dismissed
from services.matching.scoring import Side, Weights, components_of, fit_pair, score_of, score_pair
from services.matching.semantic import EMBEDDER
from services.matching.terms import QueryTerm, terms_of_row
from services.matching.vectors import STORED, own_vector, terms_for, vector_for
from services.principal import Principal
from services.search.client import SearchError
from services.search.queries import quote
from services.taxonomy import taxonomy
from services.text import normalise

PER_TERM_LIMIT = 20  # 50 ranked no labelled need better, and cost 2.5x the hits to send, parse and score
TERM_EVIDENCE = 0.6  # how much one fully matching term of weight 1 proves on its own
# Only what scoring and a match's headline need: a dozen queries × 20 hits stay a small answer.
MIN_SIMILARITY = 0.3  # a candidate found by meaning alone (no shared term) needs at least this cosine
# Without the index's hit counts (a pair scored from its rows) a term is taken as moderately common.
LOCAL_RARITY = 0.75
LOCAL_RELEVANCE = {"title": 1.0, "keywords": 1.0, "problem": 0.9, "body": 0.8}
RETRIEVE = ["id", "title", "title_n", "field", "secondary_fields", "trl", "modes", "price_negotiable", "price_min",
            "price_max", "budget_negotiable", "budget_min", "budget_max", "region", "organisation_name",
            "published_at", "problem_n", "owner_org"]
SUMMARY_CHARACTERS = 160  # of a match's summary, cut by PostgreSQL: a summary may be long
Matched = list[tuple[QueryTerm, float]]  # the terms a document matched, each with its relevance
REASONS = tuple(MatchReasons.model_fields)  # a live match's reasons, in the model's order, those it lacks null


@dataclass
class Match:
    id: uuid.UUID
    score: float
    reasons: dict
    document: dict


def counterpart(kind: ListKind) -> ListKind:
    return kinds.of(kind).counterpart


def _decimal(value) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def side_of_row(row: Achievement | Need) -> Side:
    about = kinds.of_row(row)
    negotiable, low, high = (getattr(row, name) for name in about.amount_columns())
    secondary = tuple(getattr(row, about.secondary_fields)) if about.secondary_fields else ()
    return Side(row.field, secondary, getattr(row, about.trl), tuple(getattr(row, about.modes)), negotiable, low, high,
                row.region, row.published_at)


def side_of_document(kind: ListKind, doc: dict) -> Side:
    prefix = kinds.of(kind).amount
    published = doc.get("published_at")
    return Side(doc["field"], tuple(doc.get("secondary_fields") or ()), doc.get("trl"), tuple(doc.get("modes") or ()),
                bool(doc.get(f"{prefix}_negotiable", True)), _decimal(doc.get(f"{prefix}_min")),
                _decimal(doc.get(f"{prefix}_max")), doc.get("region"),
                datetime.fromtimestamp(published, UTC) if published else None)


def rarity(document_frequency: int) -> float:
    """How much a term that many documents contain says (an IDF): 1 for a rare term, less for a common
    one, so 自动控制 in hundreds of listings counts for less than 嫩芽识别 in three."""
    return 1.0 / (1.0 + 0.5 * math.log10(max(1.0, document_frequency / 3)))


def combine(terms: list[QueryTerm], results: list[dict]) -> dict[str, tuple[float, Matched, dict]]:
    """Per document: noisy-OR of the weighted per-term ranking scores, the matched terms with their
    relevance, the document."""
    evidence: dict[str, list] = {}
    for term, result in zip(terms, results, strict=True):
        hits = result["hits"]
        strength = TERM_EVIDENCE * (term.weight * rarity(result.get("estimatedTotalHits", len(hits))))
        for hit in hits:
            entry = evidence.get(hit["id"])
            if entry is None:
                entry = evidence[hit["id"]] = [1.0, [], hit]
            relevance = float(hit.get("_rankingScore", 0.0))
            entry[0] *= 1.0 - strength * relevance
            entry[1].append((term, relevance))
    return {doc_id: (1.0 - miss, matched, doc) for doc_id, (miss, matched, doc) in evidence.items()}


def term_query(search, other: ListKind, term: str) -> dict:
    """A term's query against the other list. It carries no per-listing filter, so that one answer
    serves every listing using the term (`market match --all` asks each term once a run): the listing's
    own organisation's hits are left out afterwards (`fuse`)."""
    return {"indexUid": search.uid(other), "q": term, "limit": PER_TERM_LIMIT, "matchingStrategy": "all",
            "showRankingScore": True, "attributesToRetrieve": RETRIEVE}


def vector_query(search, kind: ListKind, row: Achievement | Need, vector: list[float], pool: int) -> dict:
    """The listing's own vector query (one per listing, so its own organisation is filtered out here)."""
    return {"indexUid": search.uid(counterpart(kind)), "vector": vector,
            "hybrid": {"embedder": EMBEDDER, "semanticRatio": 1.0},
            "filter": f"owner_org != {quote(search.owner_key(row.organisation_id))}", "limit": pool,
            "showRankingScore": True, "attributesToRetrieve": RETRIEVE}


@dataclass
class Shortlist:
    """The candidates whose estimate (`bulk`) does not rule them out of the best `limit`: (id, text relevance,
    matched terms, document, similarity or None) each, to be scored exactly (`best`)."""

    kind: ListKind
    source: Side  # the listing's
    now: datetime
    candidates: list[tuple[str, float, Matched, dict, float | None]]

    def ids(self) -> list[str]:
        return [candidate[0] for candidate in self.candidates]


@dataclass
class Answers:
    """What a listing's term queries and vector query brought back, before anything is scored."""

    owner: str  # the listing's `owner_org`, whose listings are no match
    terms: list[QueryTerm]  # the term queries' terms, in the order of their results
    term_results: list[dict]
    vector_hits: list[dict] | None  # None: no vector query

    def shortlist(self, kind: ListKind, row: Achievement | Need, pool: int, weights: Weights, limit: int,
                  encoded: dict[str, tuple] | None = None) -> Shortlist:
        """The candidates that may be among the best `limit` (`pool`: how many the vector query asked for)."""
        combined = {doc_id: found for doc_id, found in combine(self.terms, self.term_results).items()
                    if found[2].get("owner_org") != self.owner}
        similarities = similarities_of(self.vector_hits) if self.vector_hits is not None else {}
        for hit in self.vector_hits or []:
            if similarities[hit["id"]] >= MIN_SIMILARITY:  # below it, nine in ten candidates are unrelated
                combined.setdefault(hit["id"], (0.0, [], hit))
        # A candidate the vector query did not return is at most as similar as the least similar it did.
        full = similarities and len(similarities) >= pool
        unseen = min(similarities.values()) if full else None
        return shortlist(kind, row, combined, similarities, unseen, weights, limit, encoded)


async def retrieve(search, settings, kind: ListKind, row: Achievement | Need, terms: list[QueryTerm],
                   vector: list[float] | None) -> Answers:
    """A listing's candidates from its term queries and from one vector query, sent as two concurrent requests
    (none when there is nothing to ask, or the other list has no index yet). `terms`: the listing's
    (services.matching.terms.terms_of_row); `vector`: its own (services.matching.vectors.own_vector), None for
    no vector query."""
    if not (Weights.from_settings(settings).semantic and settings.match_semantic_pool):
        vector = None
    nothing = Answers(search.owner_key(row.organisation_id), [], [], None)
    if not terms and vector is None:
        return nothing
    requests = [[term_query(search, counterpart(kind), term.term) for term in terms],
                [vector_query(search, kind, row, vector, settings.match_semantic_pool)] if vector is not None else []]
    # Two requests at once: Meilisearch answers one multi-search's queries one after another, and the vector
    # query costs as much as several term queries, so on two cores the two overlap.
    answers = await asyncio.gather(*(search.client.multi_search(queries) for queries in requests if queries),
                                   return_exceptions=True)
    for answer in answers:
        if isinstance(answer, SearchError) and answer.code == "index_not_found":
            return nothing
        if isinstance(answer, BaseException):
            raise answer
    results = [result for answer in answers for result in answer["results"]]
    vector_hits = results[len(terms)]["hits"] if vector is not None else None
    return Answers(nothing.owner, terms, results[:len(terms)], vector_hits)


async def match_listing(search, settings, kind: ListKind, row: Achievement | Need, terms: list[QueryTerm],
                        limit: int, vector: list[float] | None = None) -> list[Match]:
    """The ranked counterparts of one listing (a need's achievements, or an achievement's needs): `retrieve`,
    then the best of its shortlist."""
    weights = Weights.from_settings(settings)
    answers = await retrieve(search, settings, kind, row, terms, vector)
    return best(answers.shortlist(kind, row, settings.match_semantic_pool, weights, limit), weights, limit)


def fuse(owner: str, kind: ListKind, row: Achievement | Need, terms: list[QueryTerm], term_results: list[dict],
         vector_hits: list[dict] | None, pool: int, weights: Weights, limit: int,
         encoded: dict[str, tuple] | None = None) -> list[Match]:
    """The ranked matches of one listing from its term queries' answers and its vector query's hits
    (None: no vector query). `owner`: the listing's `owner_org`, whose listings are no match."""
    found = Answers(owner, terms, term_results, vector_hits).shortlist(kind, row, pool, weights, limit, encoded)
    return best(found, weights, limit)


def rank(kind: ListKind, row: Achievement | Need, combined: dict, similarities: dict[str, float],
         unseen: float | None, weights: Weights, limit: int, encoded: dict[str, tuple] | None = None) -> list[Match]:
    """The best `limit` of the candidates `combined` (`shortlist`, then `best`)."""
    return best(shortlist(kind, row, combined, similarities, unseen, weights, limit, encoded), weights, limit)


def shortlist(kind: ListKind, row: Achievement | Need, combined: dict, similarities: dict[str, float],
              unseen: float | None, weights: Weights, limit: int, encoded: dict[str, tuple] | None = None
              ) -> Shortlist:
    """Estimate every candidate's score at once (`bulk`) and keep those the estimate cannot rule out of the best
    `limit`. `encoded`: documents' `bulk.Encoder` rows by id, kept by the caller across listings (a run meets the
    same documents in many listings' candidates)."""
    now, source = datetime.now(UTC), side_of_row(row)
    if not combined:
        return Shortlist(kind, source, now, [])
    encoder, prefix = bulk.encoder_of(taxonomy()), kinds.of(counterpart(kind)).amount
    encoded = {} if encoded is None else encoded
    found = list(combined.items())
    rows = np.array([encoded.get(doc_id) or encoded.setdefault(doc_id, encoder.row(
        doc["field"], doc.get("secondary_fields") or (), doc.get("trl"), doc.get("modes") or (),
        doc.get(f"{prefix}_negotiable", True), doc.get(f"{prefix}_min"), doc.get(f"{prefix}_max"), doc.get("region"),
        doc.get("published_at"))) for doc_id, (_, _, doc) in found], dtype=np.float64)
    cosines = [similarities.get(doc_id, unseen) for doc_id, _ in found]
    estimated = bulk.estimate(encoder, weights, source, kind == ListKind.needs, rows,
                              np.array([text for _, (text, _, _) in found]),
                              np.array([np.nan if c is None else c for c in cosines], dtype=np.float64), now)
    if len(found) > limit:  # the K-th best estimate, less the margin: nobody below it can be in the top K
        floor = np.partition(estimated, len(found) - limit)[len(found) - limit] - 2 * bulk.MARGIN
        positions = np.flatnonzero(estimated >= floor)
    else:
        positions = range(len(found))
    return Shortlist(kind, source, now, [(found[p][0], *found[p][1], cosines[p]) for p in positions])


def best(shortlist: Shortlist, weights: Weights, limit: int) -> list[Match]:
    """The shortlist's candidates scored exactly, the best `limit` of them as matches."""
    tax, kind, source, now = taxonomy(), shortlist.kind, shortlist.source, shortlist.now
    other, scored = counterpart(kind), []
    for doc_id, text, matched, doc, similarity in shortlist.candidates:
        other_side = side_of_document(other, doc)
        need, achievement = (source, other_side) if kind == ListKind.needs else (other_side, source)
        fit = fit_pair(tax, text, need, achievement, other_side.published_at, now, similarity)
        score, text_part, rest = score_of(weights, fit)
        scored.append((rank_key(score, text_part, rest, doc.get("published_at"), doc.get("title_n", ""), doc_id),
                       score, matched, doc, fit))
    # Components (and reasons) only for the matches shown.
    return [_match(score, matched, doc, components_of(weights, fit))
            for _, score, matched, doc, fit in heapq.nsmallest(limit, scored, key=itemgetter(0))]


def similarities_of(hits: list[dict]) -> dict[str, float]:
    """Cosines from a vector query's ranking scores (Meilisearch ranks by (1 + cosine) / 2)."""
    return {hit["id"]: 2.0 * float(hit.get("_rankingScore", 0.5)) - 1.0 for hit in hits}


def rank_key(score: float, text: float, structured: float, published_at: float | None, title: str,
             doc_id: str) -> tuple:
    """How matches are ordered: by score, and equal scores by what a broker would look at next (the
    better text relevance, then the better structured fit, then the newer listing), then by title and
    id, so that the same data ranks the same on every install (ids are random). `text`, `structured`:
    the text component's contribution and the sum of the others' (`scoring.score_of`); `published_at`:
    the counterpart's publication as a Unix time."""
    return (-score, -text, -round(structured, 4), -(published_at or 0.0), title, doc_id)


def _match(score: float, found: Matched, doc: dict, components: list[dict]) -> Match:
    # The document is not changed: `market match --all` shares one term's answer among many listings.
    matched = [{"term": term.term, "origin": term.origin, "weight": term.weight, "relevance": round(relevance, 4)}
               for term, relevance in found]
    title, problem = doc.get("title_n", ""), doc.get("problem_n") or ""
    matched.sort(key=lambda m: (-m["weight"] * m["relevance"], m["term"]))
    for term in matched:
        term["highlight"] = highlight(title, [term["term"]]) if term["term"] in title else None
    reasons = {"engine_version": ENGINE_VERSION, "score": score, "matched_terms": matched[:8],
               "highlight": highlight(title, [m["term"] for m in matched]), "components": components}
    # The firm's words met in what the achievement says it solves (应用场景, 解决的问题).
    if problem_terms := [m["term"] for m in matched if m["term"] in problem]:
        reasons["problem_side"] = {"terms": problem_terms[:8], "highlight": highlight(problem, problem_terms),
                                   "detail": None}
    if adopted := [m["term"] for m in matched if m["origin"] == "learned"]:
        reasons["learned"] = {"terms": adopted, "highlight": None, "detail": "similar firms adopted this"}
    return Match(uuid.UUID(doc["id"]), score, reasons, doc)


def local_text(terms: list[QueryTerm], fields: dict[str, str]) -> tuple[float, Matched]:
    """Text relevance of one pair computed from both rows, without the index: a term found in the
    counterpart's title or keywords counts fully, one found only in its longer text counts less. Used to
    score a pair a broker chose, which the term queries may never have returned."""
    miss, matched = 1.0, []
    for term in terms:
        relevance = next((LOCAL_RELEVANCE[name] for name, text in fields.items() if term.term in text), 0.0)
        if relevance:
            miss *= 1.0 - TERM_EVIDENCE * term.weight * LOCAL_RARITY * relevance
            matched.append((term, relevance))
    return 1.0 - miss, matched


async def score_rows(session, settings, need: Need, achievement: Achievement) -> Match:
    """The need's view of one (need, achievement) pair, scored from both rows and their stored vectors
    (a lead added by hand)."""
    doc = {"id": str(achievement.id), "title_n": normalise(achievement.title),
           "problem_n": normalise(f"{achievement.application_scenarios}。{achievement.problems_solved}")}
    fields = {"title": doc["title_n"], "keywords": normalise(" ".join(achievement.keywords)),
              "problem": doc["problem_n"], "body": normalise(f"{achievement.summary}。{achievement.description}")}
    text, matched = local_text(terms_of_row(need), fields)
    weights = Weights.from_settings(settings)
    similarity = None
    if weights.semantic:
        first, second = await own_vector(session, need), await own_vector(session, achievement)
        similarity = sum(a * b for a, b in zip(first, second, strict=True))
    score, components = score_pair(taxonomy(), weights, text, side_of_row(need), side_of_row(achievement),
                                   achievement.published_at, datetime.now(UTC), similarity)
    return _match(score, matched, doc, components)


def highlight(text: str, terms: list[str]) -> str:
    """The normalised text with the matched terms in <em>…</em>, from the left, the longest term that starts
    at a position first (so a term inside a longer one is never wrapped twice): what a pattern of the terms,
    longest first, would give, without compiling a pattern for every match shown."""
    found = []
    for term in {t for t in terms if t}:
        position = text.find(term)
        while position >= 0:
            found.append((position, -len(term), term))
            position = text.find(term, position + 1)
    out, copied = [], 0
    for position, _, term in sorted(found):
        if position >= copied:
            out += [text[copied:position], "<em>", term, "</em>"]
            copied = position + len(term)
    out.append(text[copied:])
    return "".join(out)


@functools.cache
def _listing(kind: ListKind, operator: bool, member: bool) -> DriverRead:
    """One round trip, outside a transaction: the listing if the reader may see it (`listings.readable`, for an
    operator, a member of an organisation or anyone else), its stored vector and own terms, and which learning the
    cached associations must be (`listing_id`, `organisation_id`). Built once a list and kind of reader, as
    `_summaries` is."""
    from services import listings

    spec = listings.SPECS[kind]
    reader = Principal(kind="system") if operator else Principal(
        kind="user", organisation_id=bindparam("organisation_id") if member else None)
    return DriverRead(listings.readable(spec, reader).where(spec.table.id == bindparam("listing_id"))
                      .outerjoin(ListingVector, ListingVector.listing_id == spec.table.id)
                      .add_columns(*STORED, LEARNED_VERSION))


@functools.cache
def _summaries(kind: ListKind) -> DriverRead:
    """Summaries for display from PostgreSQL (the term queries keep their answers small), and the dismissed
    pairs' reasons, in one statement over the top K (`listing_id`, `ids`). Built once a list: building and
    keying the statement cost as much as running it."""
    about = kinds.of(kind).other()
    other = about.table
    return DriverRead(select(other.id, func.left(getattr(other, about.summary), SUMMARY_CHARACTERS),
                             dismissal_reason(kind, bindparam("listing_id"), other.id)
                             ).where(other.id == any_(bindparam("ids", type_=ARRAY(Uuid())))))


async def live_matches(session, search, settings, principal, kind: ListKind, listing_id: uuid.UUID,
                       limit: int | None = None) -> dict:
    """Matches of a listing the caller may read (an owner previews a draft's matches before publishing):
    the best `limit` (default: the configured K), as `schemas.matching.MatchPage` serialises them, every
    field present. Plain data, not models: ~150 small models (terms, components) validated and serialised
    cost ~0.8 ms of a match; tests/api/test_matching.py holds the two to the same shape."""
    rows = await _listing(kind, principal.is_operator, principal.organisation_id is not None).rows(
        session, listing_id=listing_id, organisation_id=principal.organisation_id)
    if not rows:
        noun = kinds.of(kind).noun
        raise NotFound(f"{noun} {listing_id} not found", code=f"{noun}.not_found")
    # The listing's columns, then its organisation's name, the STORED columns and the learning's version.
    table, row = kinds.TABLES[kind], rows[0]
    columns = len(inspect(table).columns)
    listing = detached(table, row[:columns])
    stored, version = row[columns + 1:columns + 1 + len(STORED)], row[-1]
    learned = await associations(session, version)
    await session.close()  # the pooled connection goes back while Meilisearch answers
    terms, vector = await terms_for(listing, stored, learned), await vector_for(listing, stored)
    limit, weights = limit or settings.match_top_k, Weights.from_settings(settings)
    answers = await retrieve(search, settings, kind, listing, terms, vector)
    found = answers.shortlist(kind, listing, settings.match_semantic_pool, weights, limit)
    # The shortlist's summaries are read while it is scored exactly (PostgreSQL on the other core), rather than
    # the top K's after it: a round trip off the way out.
    reading = asyncio.ensure_future(_summaries(kind).fetch(session, listing_id=listing_id, ids=found.ids()))
    await asyncio.sleep(0)  # the read is sent before scoring holds the loop
    try:
        matches = best(found, weights, limit)
    finally:
        found = {id_: (summary, reason) for id_, summary, reason in await reading}
    matches = lower_dismissed(matches, {id_: reason for id_, (_, reason) in found.items() if reason is not None})
    return {"listing_id": listing_id, "engine_version": ENGINE_VERSION, "matches": [
        {"id": m.id, "title": m.document["title"], "summary": found.get(m.id, ("",))[0] or "",
         "organisation_name": m.document["organisation_name"], "field": m.document["field"],
         "region": m.document.get("region"), "trl": m.document.get("trl"), "score": m.score,
         "reasons": {name: m.reasons.get(name) for name in REASONS}} for m in matches]}
