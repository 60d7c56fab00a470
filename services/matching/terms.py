"""The query terms of a listing. A listing's text is not a query (Meilisearch reads at most 10 words
of one, and a firm's symptom shares few words with a university's technique), so the engine picks
terms: the keywords its owner chose, the characteristic terms of its title and body, and the
thesaurus's equivalents and problem → technique terms for the strongest of them."""

from dataclasses import dataclass

from services.text import Thesaurus, extract_terms, normalise

MAX_TERMS = 16  # the 4 weakest of 20 changed no labelled need's top 10 (bench/README.md, "Live match")
ORIGIN_WEIGHT = {"keyword": 1.0, "title": 0.9, "body": 0.6}
EXPANSION_FACTOR = 0.7  # a thesaurus term is evidence, but weaker than the listing's own words
EXPANDED_PER_TERM = 4
EXPANDED_TERMS = 8  # the strongest terms get thesaurus expansion
TITLE_TERMS, BODY_TERMS = 6, 10


@dataclass(frozen=True)
class QueryTerm:
    term: str
    weight: float
    origin: str  # keyword | title | body | thesaurus | learned


def listing_terms(title: str, keywords: list[str], body: str, thesaurus: Thesaurus,
                  learned: dict[str, list[str]] | None = None) -> list[QueryTerm]:
    """`learned`: need term → achievement terms that won leads paired with it (services.matching.outcomes)."""
    chosen: dict[str, QueryTerm] = {}

    def add(term: str, weight: float, origin: str) -> None:
        term = normalise(term).strip()
        if len(term) < 2:
            return
        current = chosen.get(term)
        if current is None or weight > current.weight:
            chosen[term] = QueryTerm(term, round(weight, 4), origin)

    for keyword in keywords:
        add(keyword, ORIGIN_WEIGHT["keyword"], "keyword")
    for term, weight in extract_terms(title, top_k=TITLE_TERMS):
        add(term, ORIGIN_WEIGHT["title"] * (0.6 + 0.4 * weight), "title")
    for term, weight in extract_terms(body, top_k=BODY_TERMS):
        add(term, ORIGIN_WEIGHT["body"] * (0.5 + 0.5 * weight), "body")
    strongest = sorted(chosen.values(), key=lambda t: (-t.weight, t.term))[:EXPANDED_TERMS]
    for own in strongest:
        for related in thesaurus.expand(own.term)[:EXPANDED_PER_TERM]:
            add(related, own.weight * EXPANSION_FACTOR, "thesaurus")
        for adopted in (learned or {}).get(own.term, []):
            add(adopted, own.weight * EXPANSION_FACTOR, "learned")
    return sorted(chosen.values(), key=lambda t: (-t.weight, t.term))[:MAX_TERMS]
