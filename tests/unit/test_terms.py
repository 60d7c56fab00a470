"""Query terms of a listing: the owner's keywords first, then title and body terms, then the thesaurus."""

from schemas.tables import Need
from services.matching import terms
from services.matching.terms import MAX_TERMS, expanded, own_terms, own_terms_key, own_terms_of_row, terms_of_row
from services.matching.vectors import current_terms
from services.text import Thesaurus, default_thesaurus


def listing_terms(title: str, keywords: list[str], body: str, thesaurus: Thesaurus) -> list:
    return expanded(own_terms(title, keywords, body), thesaurus)


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


def _need(**fields) -> Need:
    return Need(**{"title": "茶园采摘全靠人工", "keywords": ["采茶"], "description": "旺季招工难。", **fields})


def test_a_need_from_its_stored_own_terms_gets_the_same_terms_with_what_won_leads_taught():
    need, learned = _need(), {"采茶": ["柔性夹爪"]}
    stored = (None, None, None, own_terms_key(need), [[t.term, t.weight, t.origin] for t in own_terms_of_row(need)])
    from_stored = terms_of_row(need, learned, current_terms(need, stored))
    assert from_stored == terms_of_row(need, learned)
    assert ("柔性夹爪", "learned") in {(t.term, t.origin) for t in from_stored}
    assert current_terms(_need(title="茶园采摘全靠人工！"), stored) is None  # another text: picked again


def test_the_stored_terms_key_changes_with_any_input_of_the_own_terms_and_the_code_that_picks_them(
        monkeypatch, tmp_path):
    key = own_terms_key(_need())
    assert own_terms_key(_need()) == key
    assert own_terms_key(_need(keywords=["采", "茶"])) != own_terms_key(_need(keywords=["采茶"]))
    assert own_terms_key(_need(keywords=["采茶 机器人"])) != own_terms_key(_need(keywords=["采茶", "机器人"]))
    assert own_terms_key(_need(description="旺季招工难！")) != key
    edited = tmp_path / "text.py"  # as if services/text.py had changed
    edited.write_bytes(terms.RULE_SOURCES[1].read_bytes() + b"\n# a rule changed\n")
    try:
        monkeypatch.setattr(terms, "RULE_SOURCES", (terms.RULE_SOURCES[0], edited))
        terms.rules.cache_clear()
        assert own_terms_key(_need()) != key
    finally:
        monkeypatch.undo()
        terms.rules.cache_clear()
