"""Ranking scores every candidate from looked-up fits (`engine.Counterparts`): the matches, their order and
their scores must be those of scoring each pair in full (`scoring.score_pair`)."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from schemas.enums import ListKind
from schemas.tables import Achievement, Need
from services.matching import bulk
from services.matching.engine import combine, rank, rank_key, side_of_document, side_of_row
from services.matching.scoring import Weights, score_pair
from services.matching.terms import QueryTerm
from services.taxonomy import taxonomy

WEIGHTS = Weights(0.5, 0.15, 0.1, 0.1, 0.08, 0.04, 0.03, semantic=0.4)
PUBLISHED = datetime(2026, 6, 1, tzinfo=UTC)
SOURCE = {
    ListKind.needs: Need(organisation_id=uuid.uuid4(), title="需求", field="advanced_energy.hydrogen",
                         budget_negotiable=False, budget_min=Decimal(10_000), budget_max=Decimal(500_000),
                         cooperation_modes=["licence", "joint_development"], required_trl=5, region="cd.wuhou",
                         published_at=PUBLISHED),
    ListKind.achievements: Achievement(organisation_id=uuid.uuid4(), title="成果", summary="", field="new_materials",
                                       secondary_fields=["advanced_energy.storage"], trl=6, transfer_modes=["transfer"],
                                       price_negotiable=True, region="sc.mianyang", published_at=PUBLISHED),
}


def documents(rng: random.Random, kind: ListKind, count: int) -> list[dict]:
    """Documents of the list `kind` as the term queries return them, with few distinct values each, as
    real candidates have."""
    fields = [*sorted(taxonomy().fields), "retired.field"]  # a code the taxonomy no longer has
    amount = "price" if kind == ListKind.achievements else "budget"
    found = []
    for n in range(count):
        low = rng.choice([None, 5_000.0, 80_000.0, 300_000.0])
        found.append({
            "id": str(uuid.UUID(int=n + 1)), "title_n": f"标题{n % 7}", "field": rng.choice(fields),
            "secondary_fields": rng.sample(fields, rng.choice([0, 0, 1, 2])), "trl": rng.choice([None, 2, 5, 8]),
            "modes": rng.sample(["licence", "transfer", "joint_development", "equity"], rng.choice([0, 1, 2])),
            f"{amount}_negotiable": low is None, f"{amount}_min": low,
            f"{amount}_max": None if low is None else low * rng.choice([1, 3]),
            "region": rng.choice([None, "cd.wuhou", "cd.gaoxin", "sc.mianyang", "cn.beijing", "xx.unknown"]),
            # Within 90 days or years ago: a freshness that does not move while the test runs.
            "published_at": int((datetime.now(UTC) - timedelta(days=rng.choice([1, 30, 60, 2000]))).timestamp())
            if rng.random() < 0.9 else None})
    return found


@pytest.mark.parametrize("kind", [ListKind.needs, ListKind.achievements])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranking_by_lookups_is_ranking_by_full_fits(kind, seed):
    rng = random.Random(seed)
    other = ListKind.achievements if kind == ListKind.needs else ListKind.needs
    docs = documents(rng, other, 300)
    terms = [QueryTerm(f"词{n}", rng.choice([1.0, 0.9, 0.6, 0.42]), "title") for n in range(8)]
    results = [{"estimatedTotalHits": rng.choice([3, 40, 900]),
                "hits": [dict(doc, _rankingScore=rng.random()) for doc in rng.sample(docs, 60)]} for _ in terms]
    combined = combine(terms, results)
    similarities = {doc["id"]: rng.uniform(-0.1, 0.8) for doc in docs if rng.random() < 0.5}
    row = SOURCE[kind]

    matches = rank(kind, row, combined, similarities, 0.1, WEIGHTS, 20)

    now = datetime.now(UTC)
    expected = []
    for doc_id, (text, _, doc) in combined.items():
        source, counterpart = side_of_row(row), side_of_document(other, doc)
        need, achievement = (source, counterpart) if kind == ListKind.needs else (counterpart, source)
        score, components = score_pair(taxonomy(), WEIGHTS, text, need, achievement, counterpart.published_at, now,
                                       similarities.get(doc_id, 0.1))
        text_part = components[0]["contribution"]
        rest = sum(c["contribution"] for c in components[1:])
        expected.append((rank_key(score, text_part, rest, doc.get("published_at"), doc["title_n"], doc_id),
                         score, components))
    expected.sort(key=lambda e: e[0])
    assert [(str(m.id), m.score) for m in matches] == [(e[0][5], e[1]) for e in expected[:20]]
    assert [m.reasons["components"] for m in matches] == [e[2] for e in expected[:20]]


@pytest.mark.parametrize("kind", [ListKind.needs, ListKind.achievements])
def test_the_bulk_estimate_is_within_its_margin_of_the_exact_score(kind):
    rng = random.Random(7)
    other = ListKind.achievements if kind == ListKind.needs else ListKind.needs
    docs = documents(rng, other, 500)
    row, now = SOURCE[kind], datetime.now(UTC)
    encoder = bulk.Encoder(taxonomy())
    amount = "price" if other == ListKind.achievements else "budget"
    rows = np.array([encoder.row(d["field"], d["secondary_fields"], d["trl"], d["modes"], d[f"{amount}_negotiable"],
                                 d[f"{amount}_min"], d[f"{amount}_max"], d["region"], d["published_at"]) for d in docs])
    texts = np.array([rng.choice([0.0, 0.1, 0.35, 0.8, 1.2]) for _ in docs])
    cosines = [rng.choice([None, -0.2, 0.25, 0.5, 0.9]) for _ in docs]
    estimated = bulk.estimate(encoder, WEIGHTS, side_of_row(row), kind == ListKind.needs, rows, texts,
                              np.array([np.nan if c is None else c for c in cosines]), now)
    for doc, text, cosine, guess in zip(docs, texts, cosines, estimated, strict=True):
        source, counterpart = side_of_row(row), side_of_document(other, doc)
        need, achievement = (source, counterpart) if kind == ListKind.needs else (counterpart, source)
        exact, _ = score_pair(taxonomy(), WEIGHTS, float(text), need, achievement, counterpart.published_at, now,
                              cosine)
        assert abs(guess - exact) <= bulk.MARGIN, (doc, text, cosine)


@pytest.mark.parametrize("seed", range(5))
def test_a_match_highlight_wraps_what_a_longest_first_pattern_would(seed):
    """`engine.highlight` scans instead of compiling a pattern per match; the result is the pattern's."""
    import re

    from services.matching.engine import highlight

    rng = random.Random(seed)
    text = "".join(rng.choice("嫩芽识别采摘机器人ab") for _ in range(60))
    terms = ["".join(rng.choice("嫩芽识别采摘机器人ab") for _ in range(rng.randint(1, 4))) for _ in range(6)] + [""]
    ordered = sorted({t for t in terms if t}, key=len, reverse=True)
    expected = re.sub("|".join(map(re.escape, ordered)), lambda m: f"<em>{m.group(0)}</em>", text)
    assert highlight(text, terms) == expected
