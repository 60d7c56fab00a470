"""Structured fit between a need and an achievement, and the final score with its reasons (pure).

Every component is a fit in [0, 1]; the score is the weighted sum, weights from settings (README,
"Matching"). The text relevance (shared terms) and the semantic fit (sentence vectors) say whether the
two are about the same problem; the structured fit then separates real fits from look-alikes. Structured
fit counts fully only once one of the two reaches TEXT_GATE, so a pair that merely shares a field, a
region and a price band never ranks high.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from services.taxonomy import Taxonomy

TEXT_GATE = 0.3
SEMANTIC_FLOOR, SEMANTIC_CEILING = 0.2, 0.6  # USE cosines: unrelated pairs' median 0.15, relevant 0.45
UNKNOWN = 0.5  # a fact one side did not give: neither a fit nor a misfit


@dataclass(frozen=True)
class Side:
    """What scoring needs of a listing, whichever list it is on."""

    field: str
    secondary_fields: tuple[str, ...] = ()
    trl: int | None = None  # an achievement's maturity, or the maturity a need requires
    modes: tuple[str, ...] = ()
    amount_negotiable: bool = True
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    region: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Weights:
    text: float
    field: float
    maturity: float
    price: float
    mode: float
    region: float
    freshness: float
    semantic: float = 0.0

    @classmethod
    def from_settings(cls, settings) -> "Weights":
        return cls(*(float(getattr(settings, f"match_weight_{name}")) for name in
                     ("text", "field", "maturity", "price", "mode", "region", "freshness", "semantic")))


def field_fit(tax: Taxonomy, need: Side, achievement: Side) -> tuple[float, str]:
    if need.field not in tax.fields or achievement.field not in tax.fields:
        return 0.0, "unknown field"
    if need.field == achievement.field:
        return 1.0, "same field" if "." not in need.field else "same sub-field"
    need_top = tax.top(need.field)
    if need_top == tax.top(achievement.field):
        return 0.8, "same field"
    secondary_tops = {tax.top(code) for code in achievement.secondary_fields if code in tax.fields}
    if need.field in achievement.secondary_fields or need_top in secondary_tops:
        return 0.7, "the achievement's secondary field"
    achievement_top = tax.top(achievement.field)
    if achievement_top in tax.related(need.field) or need_top in tax.related(achievement.field):
        return 0.5, "related field"
    return 0.0, "different field"


def maturity_fit(required: int | None, offered: int | None) -> tuple[float, str]:
    if required is None or offered is None:
        return UNKNOWN, "maturity not given"
    if offered >= required:
        return 1.0, f"TRL {offered} meets the required {required}"
    return max(0.0, 1.0 - 0.3 * (required - offered)), f"TRL {offered} below the required {required}"


def price_fit(budget: Side, price: Side) -> tuple[float, str]:
    """Overlap of the need's budget range and the achievement's price range."""
    if budget.amount_negotiable and budget.amount_max is None or price.amount_negotiable and price.amount_min is None:
        return 0.6, "negotiable"
    budget_max = budget.amount_max
    price_min = price.amount_min
    if budget_max is None or price_min is None or price_min <= budget_max:
        if budget.amount_min is not None and price.amount_max is not None and price.amount_max < budget.amount_min:
            return 0.8, "price below the budget"
        return 1.0, "price within budget"
    gap = float((price_min - budget_max) / price_min)  # how far the cheapest price is beyond the budget
    return max(0.0, 1.0 - 2.0 * gap), "price above budget"


def mode_fit(wanted: tuple[str, ...], offered: tuple[str, ...]) -> tuple[float, str]:
    if not wanted or not offered:
        return UNKNOWN, "modes not given"
    common = sorted(set(wanted) & set(offered))
    if common:
        return 1.0, "both accept " + ", ".join(common)
    return 0.0, "no common transfer mode"


def region_fit(need_region: str | None, achievement_region: str | None) -> tuple[float, str]:
    if not need_region or not achievement_region:
        return UNKNOWN, "region not given"
    if need_region == achievement_region:
        return 1.0, "same district"
    need_scope, achievement_scope = need_region.split(".")[0], achievement_region.split(".")[0]
    if need_scope == achievement_scope == "cd":
        return 0.8, "both in Chengdu"
    if {need_scope, achievement_scope} <= {"cd", "sc"}:
        return 0.6, "both in Sichuan"
    return 0.3, "different province"


def freshness_fit(published_at: datetime | None, now: datetime) -> tuple[float, str]:
    if published_at is None:
        return UNKNOWN, "not published"
    days = max(0.0, (now - published_at).total_seconds() / 86400)
    if days <= 90:
        return 1.0, "published in the last 90 days"
    return max(0.3, 1.0 - 0.7 * (days - 90) / 640), f"published {int(days)} days ago"


def semantic_fit(similarity: float | None) -> float:
    """A cosine of two sentence vectors as a fit: unrelated listings sit near SEMANTIC_FLOOR, listings
    about the same problem at SEMANTIC_CEILING and above (bench/README.md, "Semantic signal")."""
    if similarity is None:
        return 0.0
    return min(1.0, max(0.0, (similarity - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR)))


@dataclass(frozen=True)
class Fit:
    """A pair's fits before weighting: its score and its components both follow from them."""

    text: float
    meaning: float
    similarity: float | None
    gate: float
    parts: dict[str, tuple[float, str]]  # structured component -> (fit, detail)


def fit_pair(tax: Taxonomy, text: float, need: Side, achievement: Side, counterpart_published: datetime | None,
             now: datetime, similarity: float | None = None) -> Fit:
    text = min(1.0, max(0.0, text))
    meaning = semantic_fit(similarity)
    gate = min(1.0, max(text, meaning) / TEXT_GATE)  # the words or the meaning say it is the same problem
    return Fit(text, meaning, similarity, gate, {
        "field": field_fit(tax, need, achievement),
        "maturity": maturity_fit(need.trl, achievement.trl),
        "price": price_fit(need, achievement),
        "mode": mode_fit(need.modes, achievement.modes),
        "region": region_fit(need.region, achievement.region),
        "freshness": freshness_fit(counterpart_published, now),
    })


def score_of(weights: Weights, fit: Fit) -> tuple[float, float, float]:
    """(score, text contribution, the other contributions' sum), as `score_pair` computes them but without
    its components: ranking scores hundreds of candidates and shows K. Summed in the components' order,
    so the score is the same float."""
    text = round(weights.text * fit.text, 4)
    total, weight, rest = text, weights.text, 0.0
    if weights.semantic:
        contribution = round(weights.semantic * fit.meaning, 4)
        total, weight, rest = total + contribution, weight + weights.semantic, rest + contribution
    for name, (value, _) in fit.parts.items():
        part = getattr(weights, name)
        contribution = round(part * value * fit.gate, 4)
        total, weight, rest = total + contribution, weight + part, rest + contribution
    return round(min(1.0, total / (weight or 1.0)), 4), text, rest


def components_of(weights: Weights, fit: Fit) -> list[dict]:
    """Each component with its fit, weight and contribution (the reasons of a match)."""
    components = [{"name": "text", "fit": round(fit.text, 4), "weight": weights.text,
                   "contribution": round(weights.text * fit.text, 4), "detail": "relevance of the matched terms"}]
    if weights.semantic:
        similarity = fit.similarity
        detail = ("meaning of the two texts" + (f" (cosine {similarity:.2f})" if similarity is not None else
                                                " not known"))
        components.append({"name": "semantic", "fit": round(fit.meaning, 4), "weight": weights.semantic,
                           "contribution": round(weights.semantic * fit.meaning, 4), "detail": detail})
    for name, (value, detail) in fit.parts.items():
        weight = getattr(weights, name)
        components.append({"name": name, "fit": round(value, 4), "weight": weight,
                           "contribution": round(weight * value * fit.gate, 4), "detail": detail})
    return components


def score_pair(tax: Taxonomy, weights: Weights, text: float, need: Side, achievement: Side,
               counterpart_published: datetime | None, now: datetime | None = None,
               similarity: float | None = None) -> tuple[float, list[dict]]:
    """The score in [0, 1] and its components, each with its fit, weight and contribution. `similarity`
    is the cosine of the two listings' sentence vectors (None: not known)."""
    fit = fit_pair(tax, text, need, achievement, counterpart_published, now or datetime.now(UTC), similarity)
    return score_of(weights, fit)[0], components_of(weights, fit)
