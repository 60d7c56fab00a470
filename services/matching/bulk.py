"""A listing's candidates scored at once (numpy), to find the few whose exact score is worth computing.

A need's term and vector queries bring ~300 candidate documents; scoring each in Python (`scoring.fit_pair`,
its Decimals, dates and detail strings) cost ~70 µs a candidate, most of `market match --all`. Here the
same rules run over arrays, one numpy operation per rule for all candidates. The result is an estimate
(floats, no per-component rounding, within ~1e-3 of the exact score); `engine.rank` computes the exact score
of every candidate the estimate cannot rule out of the top K, so the matches and their scores are exactly
those of scoring everyone in full (tests/unit/test_rank.py).
"""

import functools
from datetime import datetime

import numpy as np

from schemas.enums import TransferMode
from services.matching.scoring import SEMANTIC_CEILING, SEMANTIC_FLOOR, TEXT_GATE, UNKNOWN, Side, Weights
from services.taxonomy import Taxonomy

MARGIN = 1e-3  # the estimate is within this of the exact score (eight roundings to 4 decimals, at most 4e-4)
SCOPES = {"cd": 0, "sc": 1}  # a region's scope: Chengdu, Sichuan, anywhere else (2)
# Columns of a side: field, its top field, the top fields of its secondary fields (bits), maturity, modes
# (bits), amount negotiable, amount low, amount high, region, region scope, published (Unix time).
FIELD, TOP, SECONDARY, TRL, MODES, NEGOTIABLE, LOW, HIGH, REGION, SCOPE, PUBLISHED = range(11)


class Encoder:
    """Sides as rows of numbers. Codes become small integers (fields and regions from the taxonomy, modes from
    the enum), so bit masks and equality stand in for sets and strings. A code it does not know gets a number
    from its hash: two unknown codes may then look equal, which can only raise an estimate (a candidate
    scored exactly for nothing), never lower one."""

    def __init__(self, tax: Taxonomy):
        tops = sorted({tax.top(code) for code in tax.fields})
        top = {code: n for n, code in enumerate(tops)}
        # Looked up once a document: a field's (number, its top field's number) and its top field as a bit.
        self.fields = {code: (n, top[tax.top(code)]) for n, code in enumerate(sorted(tax.fields))}
        self.top_bits = {code: 1 << top[tax.top(code)] for code in tax.fields}
        # related[n, a]: the rule "related field" between a need's top field n and an achievement's a
        self.related = np.array([[a in tax.fields[n].related or n in tax.fields[a].related for a in tops]
                                 for n in tops])
        self.regions = {code: (n, SCOPES.get(code.split(".")[0], 2)) for n, code in enumerate(sorted(tax.regions))}
        self.mode_bits = {mode.value: 1 << n for n, mode in enumerate(TransferMode)}

    def row(self, field: str, secondary_fields, trl: int | None, modes, negotiable: bool, low, high,
            region: str | None, published: float | None) -> tuple:
        """A side's row (`low`, `high`: the amount range; `published`: Unix time)."""
        nan = np.nan
        number, top = self.fields.get(field, (-1, -1))
        secondary = 0
        for code in secondary_fields:
            secondary |= self.top_bits.get(code, 0)
        mode_bits = 0
        for mode in modes:
            mode_bits |= self.mode_bits.get(mode) or 1 << (len(self.mode_bits) + hash(mode) % 40)
        if region:
            region, scope = self.regions.get(region) or (len(self.regions) + hash(region) % 2**20,
                                                         SCOPES.get(region.split(".")[0], 2))
        else:
            region = scope = -1
        return (number, top, secondary, nan if trl is None else trl, mode_bits, negotiable,
                nan if low is None else float(low), nan if high is None else float(high), region, scope,
                nan if published is None else published)

    def side(self, side: Side) -> np.ndarray:
        return np.array([self.row(side.field, side.secondary_fields, side.trl, side.modes, side.amount_negotiable,
                                  side.amount_min, side.amount_max, side.region,
                                  side.published_at.timestamp() if side.published_at else None)], dtype=np.float64)


@functools.cache
def encoder_of(tax: Taxonomy) -> Encoder:
    return Encoder(tax)


def estimate(encoder: Encoder, weights: Weights, source: Side, source_is_need: bool, others: np.ndarray,
             text: np.ndarray, similarity: np.ndarray, now: datetime) -> np.ndarray:
    """The score of each pair (source, one of `others`' rows: `Encoder.row`s of the other list) as
    `scoring.score_pair` defines it, to within MARGIN. `similarity`: cosines, NaN where not known."""
    one = encoder.side(source)
    need, achievement = (one, others) if source_is_need else (others, one)
    need, achievement = need.T, achievement.T
    text = np.clip(text, 0.0, 1.0)
    meaning = np.where(np.isnan(similarity), 0.0,
                       np.clip((similarity - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR), 0.0, 1.0))
    gate = np.minimum(1.0, np.maximum(text, meaning) / TEXT_GATE)
    parts = (weights.field * _field(encoder, need, achievement)
             + weights.maturity * _maturity(need[TRL], achievement[TRL])
             + weights.price * _price(need, achievement)
             + weights.mode * _mode(need[MODES], achievement[MODES])
             + weights.region * _region(need, achievement)
             + weights.freshness * _freshness(others[:, PUBLISHED], now))
    total = (weights.text + weights.semantic + weights.field + weights.maturity + weights.price + weights.mode
             + weights.region + weights.freshness)
    return np.minimum(1.0, (weights.text * text + weights.semantic * meaning + gate * parts) / (total or 1.0))


def _field(encoder: Encoder, need: np.ndarray, achievement: np.ndarray) -> np.ndarray:
    known = (need[FIELD] >= 0) & (achievement[FIELD] >= 0)
    need_top, achievement_top = need[TOP].astype(np.int64), achievement[TOP].astype(np.int64)
    secondary = (achievement[SECONDARY].astype(np.int64) >> np.maximum(need_top, 0)) & 1
    related = encoder.related[np.maximum(need_top, 0), np.maximum(achievement_top, 0)]
    return np.select([~known, need[FIELD] == achievement[FIELD], need_top == achievement_top, secondary == 1,
                      related], [0.0, 1.0, 0.8, 0.7, 0.5], 0.0)


def _maturity(required: np.ndarray, offered: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        fit = np.where(offered >= required, 1.0, np.maximum(0.0, 1.0 - 0.3 * (required - offered)))
    return np.where(np.isnan(required) | np.isnan(offered), UNKNOWN, fit)


def _price(budget: np.ndarray, price: np.ndarray) -> np.ndarray:
    budget_max, price_min = budget[HIGH], price[LOW]
    negotiable = ((budget[NEGOTIABLE] == 1) & np.isnan(budget_max)) | ((price[NEGOTIABLE] == 1) & np.isnan(price_min))
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.isnan(budget_max) | np.isnan(price_min) | (price_min <= budget_max)
        below = ~np.isnan(budget[LOW]) & ~np.isnan(price[HIGH]) & (price[HIGH] < budget[LOW])
        above = np.maximum(0.0, 1.0 - 2.0 * (price_min - budget_max) / price_min)
    return np.select([negotiable, within & below, within], [0.6, 0.8, 1.0], above)


def _mode(wanted: np.ndarray, offered: np.ndarray) -> np.ndarray:
    common = (wanted.astype(np.int64) & offered.astype(np.int64)) != 0
    return np.where((wanted == 0) | (offered == 0), UNKNOWN, np.where(common, 1.0, 0.0))


def _region(need: np.ndarray, achievement: np.ndarray) -> np.ndarray:
    need_scope, achievement_scope = need[SCOPE], achievement[SCOPE]
    return np.select([(need[REGION] < 0) | (achievement[REGION] < 0), need[REGION] == achievement[REGION],
                      (need_scope == 0) & (achievement_scope == 0), (need_scope <= 1) & (achievement_scope <= 1)],
                     [UNKNOWN, 1.0, 0.8, 0.6], 0.3)


def _freshness(published: np.ndarray, now: datetime) -> np.ndarray:
    days = np.maximum(0.0, (now.timestamp() - published) / 86400)
    return np.where(np.isnan(published), UNKNOWN,
                    np.where(days <= 90, 1.0, np.maximum(0.3, 1.0 - 0.7 * (days - 90) / 640)))
