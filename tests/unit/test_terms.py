"""Query terms of a listing: the owner's keywords first, then title and body terms, then the thesaurus."""

from services.matching.terms import MAX_TERMS, listing_terms
from services.text import default_thesaurus


def test_keywords_weigh_most_and_terms_are_normalised_and_unique():
    terms = listing_terms("名優茶採摘全靠人工，旺季招不到人", ["採茶", "招工難", "采茶"],
                          "茶園採摘全靠人工，旺季招工難、成本高，想找能替代人工採摘嫩芽的設備。", default_thesaurus())
    by_term = {t.term: t for t in terms}
    assert by_term["采茶"].origin == "keyword" and by_term["采茶"].weight == 1.0
    assert len(by_term) == len(terms) <= MAX_TERMS
    assert all(t.term == t.term.lower() and "採" not in t.term for t in terms)
    assert [t.weight for t in terms] == sorted((t.weight for t in terms), reverse=True)


def test_symptoms_are_expanded_into_technique_terms():
    terms = listing_terms("电池包夏天容易起火", ["热失控"], "储能电站的电池包夏天温度高，担心热失控起火。",
                          default_thesaurus())
    expanded = [t for t in terms if t.origin == "thesaurus"]
    assert expanded, terms
    assert all(t.weight < 1.0 for t in expanded)


def test_an_empty_listing_has_no_terms():
    assert listing_terms("", [], "", default_thesaurus()) == []
