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
    assert [m["term"] for m in combined["a"][1]] == ["嫩芽识别", "采摘机器人"]
    assert all(0 <= text <= 1 for text, _, _ in combined.values())


def test_a_common_term_says_less_than_a_rare_one():
    term = [QueryTerm("自动控制", 1.0, "keyword")]
    rare = combine(term, [_result(2, ("a", 1.0))])["a"][0]
    common = combine(term, [_result(900, ("a", 1.0))])["a"][0]
    assert common < rare


@pytest.mark.parametrize(("low", "high"), [(1, 30), (30, 300), (300, 3000)])
def test_rarity_falls_with_document_frequency(low, high):
    assert 0 < rarity(high) < rarity(low) <= 1.0
