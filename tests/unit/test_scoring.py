"""Structured fit and the final score: each component on its own, then how they combine."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.matching.scoring import (
    Side,
    Weights,
    field_fit,
    fit_pair,
    freshness_fit,
    maturity_fit,
    mode_fit,
    price_fit,
    region_fit,
    score_of,
    score_pair,
)
from services.taxonomy import taxonomy

W = Weights(text=0.45, field=0.2, maturity=0.1, price=0.1, mode=0.08, region=0.04, freshness=0.03)
NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize(("need", "achievement", "secondary", "expected"), [
    ("advanced_energy.hydrogen", "advanced_energy.hydrogen", (), 1.0),
    ("advanced_energy.hydrogen", "advanced_energy.storage", (), 0.8),
    ("advanced_energy.hydrogen", "artificial_intelligence", ("advanced_energy.hydrogen",), 0.7),
    ("advanced_energy.hydrogen", "new_materials.carbon", (), 0.5),  # related fields
    ("modern_agriculture.smart_agriculture", "drones.industrial", (), 0.5),
    ("biomedicine.tcm", "rail_transit.vehicles", (), 0.0),
])
def test_field_fit(need, achievement, secondary, expected):
    fit, _ = field_fit(taxonomy(), Side(field=need), Side(field=achievement, secondary_fields=secondary))
    assert fit == expected


@pytest.mark.parametrize(("required", "offered", "expected"), [
    (5, 7, 1.0), (5, 5, 1.0), (6, 5, 0.7), (7, 3, 0.0), (None, 5, 0.5), (5, None, 0.5),
])
def test_maturity_fit(required, offered, expected):
    assert maturity_fit(required, offered)[0] == pytest.approx(expected)


def _money(negotiable, low, high):
    return Side(field="x", amount_negotiable=negotiable, amount_min=low and Decimal(low),
                amount_max=high and Decimal(high))


@pytest.mark.parametrize(("budget", "price", "expected"), [
    (("0", "300000", "800000"), ("0", "500000", "1500000"), 1.0),  # overlap
    (("0", "300000", "800000"), ("0", "100000", "200000"), 0.8),  # cheaper than the budget
    (("0", "300000", "800000"), ("0", "1000000", "2000000"), 0.6),  # 20 % above: 1 - 2*0.2
    (("0", "100000", "200000"), ("0", "1000000", None), 0.0),  # far above
    (("1", None, None), ("0", "500000", "900000"), 0.6),  # negotiable budget
])
def test_price_fit(budget, price, expected):
    b = _money(budget[0] == "1", budget[1], budget[2])
    p = _money(price[0] == "1", price[1], price[2])
    assert price_fit(b, p)[0] == pytest.approx(expected)


@pytest.mark.parametrize(("wanted", "offered", "expected"), [
    (("licence",), ("licence", "assignment"), 1.0), (("equity",), ("licence",), 0.0), ((), ("licence",), 0.5),
])
def test_mode_fit(wanted, offered, expected):
    assert mode_fit(wanted, offered)[0] == expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("cd.wuhou", "cd.wuhou", 1.0), ("cd.wuhou", "cd.pidu", 0.8), ("cd.wuhou", "sc.mianyang", 0.6),
    ("cd.wuhou", "cn.beijing", 0.3), (None, "cd.wuhou", 0.5),
])
def test_region_fit(a, b, expected):
    assert region_fit(a, b)[0] == expected


def test_freshness_decays_but_never_below_floor():
    assert freshness_fit(NOW - timedelta(days=10), NOW)[0] == 1.0
    assert 0.3 < freshness_fit(NOW - timedelta(days=300), NOW)[0] < 1.0
    assert freshness_fit(NOW - timedelta(days=2000), NOW)[0] == 0.3


def test_score_is_bounded_and_components_add_up():
    need = Side(field="advanced_energy.hydrogen", trl=5, modes=("licence",), amount_negotiable=False,
                amount_min=Decimal(1), amount_max=Decimal(10**6), region="cd.wuhou")
    ach = Side(field="advanced_energy.hydrogen", trl=7, modes=("licence",), amount_negotiable=False,
               amount_min=Decimal(10**5), amount_max=Decimal(10**6), region="cd.wuhou")
    score, components = score_pair(taxonomy(), W, 1.0, need, ach, NOW, NOW)
    assert score == pytest.approx(1.0)
    assert sum(c["contribution"] for c in components) == pytest.approx(score * sum(c["weight"] for c in components))
    assert [c["name"] for c in components] == ["text", "field", "maturity", "price", "mode", "region", "freshness"]


def test_structured_fit_alone_cannot_make_a_look_alike_rank_high():
    need = Side(field="advanced_energy.hydrogen", trl=5, modes=("licence",), region="cd.wuhou")
    ach = Side(field="advanced_energy.hydrogen", trl=7, modes=("licence",), region="cd.wuhou")
    weak_text, _ = score_pair(taxonomy(), W, 0.05, need, ach, NOW, NOW)
    strong_text_other_field, _ = score_pair(taxonomy(), W, 0.8, need,
                                            Side(field="new_materials.carbon", trl=7, region="cn.beijing"), NOW, NOW)
    assert weak_text < 0.2 < strong_text_other_field


# Calibration: a score band means the same across listings (bench/README.md, "Calibration"). Each case is a
# pair as the engine sees it: text relevance from the term queries (one fully matching rare keyword gives
# 0.6), the cosine of the two sentence vectors, and a perfect structured fit (the hardest case to keep low).
CALIBRATION_WEIGHTS = Weights(text=0.5, field=0.15, maturity=0.1, price=0.1, mode=0.08, region=0.04, freshness=0.03,
                              semantic=0.4)


@pytest.mark.parametrize(("text", "similarity", "low", "high"), [
    (0.6, 0.20, 0.0, 0.8),  # a single shared rare word, different meaning: never the top band
    (0.6, 0.30, 0.0, 0.8),  # ... even when the two are about the same broad topic
    (0.0, 0.15, 0.0, 0.2),  # nothing shared: no structured fit counts
    (0.0, 0.45, 0.5, 0.8),  # a symptom need and the technique solving it (no word shared): a fit, not top
    (0.84, 0.50, 0.8, 1.0),  # two strong terms and close in meaning: the top band
    (0.96, 0.60, 0.85, 1.0),
])
def test_score_bands_are_calibrated(text, similarity, low, high):
    side = Side("advanced_energy.hydrogen", (), 6, ("licence",), True, None, None, "cd.wuhou", NOW)
    score, _ = score_pair(taxonomy(), CALIBRATION_WEIGHTS, text, side, side, NOW, NOW, similarity)
    assert low <= score < high


@pytest.mark.parametrize("weights", [W, Weights(0.5, 0.15, 0.1, 0.1, 0.08, 0.04, 0.03, semantic=0.4)])
@pytest.mark.parametrize(("text", "similarity", "achievement"), [
    (0.0, None, Side(field="advanced_energy.hydrogen")),
    (0.05, 0.1, Side(field="new_materials.carbon", trl=3, region="cn.beijing")),
    (0.37, 0.45, Side(field="advanced_energy.storage", trl=7, modes=("licence",), amount_negotiable=False,
                      amount_min=Decimal(2 * 10**6), region="cd.wuhou", published_at=NOW - timedelta(days=300))),
    (1.0, 0.8, Side(field="advanced_energy.hydrogen", trl=9, modes=("equity",), region="sc.mianyang")),
])
def test_the_score_without_components_is_the_same_to_the_last_bit(weights, text, similarity, achievement):
    need = Side(field="advanced_energy.hydrogen", trl=5, modes=("licence",), amount_negotiable=False,
                amount_min=Decimal(1), amount_max=Decimal(10**6), region="cd.wuhou")
    score, components = score_pair(taxonomy(), weights, text, need, achievement, achievement.published_at, NOW,
                                   similarity)
    text_part = next(c["contribution"] for c in components if c["name"] == "text")
    rest = sum(c["contribution"] for c in components if c["name"] != "text")
    fit = fit_pair(taxonomy(), text, need, achievement, achievement.published_at, NOW, similarity)
    assert score_of(weights, fit) == (score, text_part, rest)
