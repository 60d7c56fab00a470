"""Combining per-term ranking scores: more matched terms rank higher; common terms count for less."""

import pytest

from services.matching.engine import combine, rarity
from services.matching.terms import QueryTerm


def _result(total: int, *hits: tuple[str, float]) -> dict:
    return {"estimatedTotalHits": total, "hits": [{"id": i, "_rankingScore": s} for i, s in hits]}


def test_a_document_matching_more_terms_ranks_higher():
    terms = [QueryTerm("嫩芽识别", 1.0, "keyword"), QueryTerm("采摘机器人", 0.9, "title")]
    combined = combine(terms, [_result(2, ("a", 0.95), ("b", 0.95)), _result(1, ("a", 0.9))])
    assert combined["a"][0] > combined["b"][0] > 0
    assert [term.term for term, _ in combined["a"][1]] == ["嫩芽识别", "采摘机器人"]
    assert all(0 <= text <= 1 for text, _, _ in combined.values())


def test_a_common_term_says_less_than_a_rare_one():
    term = [QueryTerm("自动控制", 1.0, "keyword")]
    rare = combine(term, [_result(2, ("a", 1.0))])["a"][0]
    common = combine(term, [_result(900, ("a", 1.0))])["a"][0]
    assert common < rare


@pytest.mark.parametrize(("low", "high"), [(1, 30), (30, 300), (300, 3000)])
def test_rarity_falls_with_document_frequency(low, high):
    assert 0 < rarity(high) < rarity(low) <= 1.0


def test_equal_scores_rank_the_same_on_two_installs():
    """Two installs hold the same listings under different random ids: a tie is broken by the text
    relevance, the structured fit, the publication time and the title, never by the id."""
    import uuid
    from datetime import UTC, datetime

    from services.matching.engine import rank_key

    published = datetime(2026, 11, 1, tzinfo=UTC)
    candidates = [  # (title, text contribution, structured contribution, published): all score 0.6
        ("甲", 0.30, 0.30, published), ("乙", 0.25, 0.35, published), ("丙", 0.30, 0.30, published),
        ("丁", 0.30, 0.30, datetime(2026, 11, 2, tzinfo=UTC)),
    ]

    def ranking() -> list[str]:
        keys = [rank_key(0.6, text, rest, when.timestamp(), title, str(uuid.uuid4()))
                for title, text, rest, when in candidates]
        return [key[4] for key in sorted(keys)]

    assert ranking() == ranking() == ["丁", "丙", "甲", "乙"]  # newest first among equals, then by title
