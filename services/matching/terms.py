"""The query terms of a listing. A listing's text is not a query (Meilisearch reads at most 10 words
of one, and a firm's symptom shares few words with a university's technique), so the engine picks
terms: the keywords its owner chose, the characteristic terms of its title and body, and the
thesaurus's equivalents and problem → technique terms for the strongest of them.

Picking a listing's own terms (segmentation) is most of the cost, so the worker stores them with the
listing's vector (`services.matching.vectors`), under `own_terms_key`; a match then only expands them."""

import functools
import hashlib
import unicodedata
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from services import kinds, text
from services.text import Thesaurus, default_thesaurus, extract_terms, normalise

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


def _add(chosen: dict[str, QueryTerm], term: str, weight: float, origin: str, normalised: bool = False) -> None:
    term = term if normalised else normalise(term).strip()
    if len(term) < 2:
        return
    current = chosen.get(term)
    if current is None or weight > current.weight:
        chosen[term] = QueryTerm(term, round(weight, 4), origin)


def own_terms(title: str, keywords: list[str], body: str) -> list[QueryTerm]:
    """A listing's own terms, before any expansion: its keywords and the characteristic terms of its title
    and body (segmented with the project's thesaurus)."""
    chosen: dict[str, QueryTerm] = {}
    for keyword in keywords:
        _add(chosen, keyword, ORIGIN_WEIGHT["keyword"], "keyword")
    for term, weight in extract_terms(title, top_k=TITLE_TERMS):
        _add(chosen, term, ORIGIN_WEIGHT["title"] * (0.6 + 0.4 * weight), "title")
    for term, weight in extract_terms(body, top_k=BODY_TERMS):
        _add(chosen, term, ORIGIN_WEIGHT["body"] * (0.5 + 0.5 * weight), "body")
    return list(chosen.values())


def expanded(own: list[QueryTerm], thesaurus: Thesaurus, learned: dict[str, list[str]] | None = None
             ) -> list[QueryTerm]:
    """The query terms from a listing's own: the strongest get the thesaurus's terms and what won leads
    taught (`learned`: need term → achievement terms that won leads paired with it,
    services.matching.outcomes); the best MAX_TERMS of all."""
    chosen = {term.term: term for term in own}
    strongest = sorted(own, key=lambda t: (-t.weight, t.term))[:EXPANDED_TERMS]
    for term in strongest:
        for related in thesaurus.expand(term.term)[:EXPANDED_PER_TERM]:
            # The thesaurus holds its terms normalised: ~30 conversions less, the most of expanding stored terms.
            _add(chosen, related, term.weight * EXPANSION_FACTOR, "thesaurus", normalised=True)
        for adopted in (learned or {}).get(term.term, []):
            _add(chosen, adopted, term.weight * EXPANSION_FACTOR, "learned")
    return sorted(chosen.values(), key=lambda t: (-t.weight, t.term))[:MAX_TERMS]


def _text_of(row) -> tuple[str, list[str], str]:
    """(title, keywords, body): what a listing's terms are picked from."""
    return row.title, row.keywords, "。".join(getattr(row, name) for name in kinds.of_row(row).body)


def terms_of_row(row, learned: dict[str, list[str]] | None = None, own: list[QueryTerm] | None = None
                 ) -> list[QueryTerm]:
    """A listing's query terms from its own (`own`: stored and current, else picked now). A need's are expanded
    with what won leads taught (`learned`); an achievement's are not."""
    return expanded(own_terms_of_row(row) if own is None else own, default_thesaurus(),
                    learned if kinds.of_row(row).learns else None)


def own_terms_of_row(row) -> list[QueryTerm]:
    return own_terms(*_text_of(row))


# The code that picks own terms: a change to any of it (the rules here, normalising and segmenting in text.py)
# makes every stored listing's stale, with no version to remember to raise.
RULE_SOURCES = (Path(__file__), Path(text.__file__))


@functools.cache
def rules() -> bytes:
    """What a listing's own terms depend on besides its text: the code that picks them, the segmenter's and
    the script converter's versions and data, Unicode's, and the thesaurus (its terms are kept whole, its
    stop-words dropped). Computed at start (`market.app.load_text`): it reads ~4,000 terms."""
    thesaurus = default_thesaurus()
    digest = hashlib.sha256()
    for path in RULE_SOURCES:
        digest.update(path.read_bytes())
    digest.update(f"\x1f{version('jieba')}\x1f{version('OpenCC')}\x1f{unicodedata.unidata_version}\x1f".encode())
    digest.update(("\x1e".join(thesaurus.terms()) + "\x1f" + "\x1e".join(sorted(thesaurus.stopwords))).encode())
    return digest.digest()


def own_terms_key(row) -> str:
    """Stored own terms are current while this is the key they were stored under."""
    title, keywords, body = _text_of(row)
    written = "\x1f".join((title, "\x1e".join(keywords), body))
    return hashlib.sha256(rules() + written.encode()).hexdigest()[:32]
