"""Highlights mapped from the normalised text back to the text as written."""

import pytest

from services.search.documents import ip_number_variants
from services.search.highlight import align, highlight, marked_terms, snippet


@pytest.mark.parametrize(("original", "terms", "expected"), [
    ("氫能儲運裝備的關鍵材料", {"氢能", "储运"}, "<em>氫能儲運</em>裝備的關鍵材料"),
    ("多核處理器的執行緒調度", {"线程"}, "多核處理器的<em>執行緒</em>調度"),  # three characters became two
    ("晶片與資料庫伺服器", {"数据库"}, "晶片與<em>資料庫</em>伺服器"),
    ("ＡＢＣ 軟體 工具", {"abc", "软件"}, "<em>ＡＢＣ</em> <em>軟體</em> 工具"),  # full-width, and a phrase
    ("  前後  有 空白 ", {"有"}, "  前後  <em>有</em> 空白 "),
    ("沒有命中", {"氢能"}, None),
])
def test_highlight_marks_the_original(original, terms, expected):
    assert highlight(original, terms) == expected


@pytest.mark.parametrize("original", ["氫能儲運", "執行緒 與 軟體機器人", "ＵＡＶ無人機 ", "資料庫伺服器晶片", ""])
def test_every_normalised_character_maps_back(original):
    target, spans = align(original)
    assert len(spans) == len(target)


def test_marked_terms_are_read_from_the_formatted_text():
    assert marked_terms("<em>氢能</em><em>储运</em>装备 <em> </em>") == {"氢能", "储运"}


def test_a_patent_number_is_searchable_in_its_written_variants():
    assert ip_number_variants("ZL202110123456.7") == {
        "zl202110123456.7", "zl2021101234567", "202110123456.7", "2021101234567", "202110123456"}


def test_a_long_summary_is_cut_around_its_first_match():
    text = "前言。" * 100 + "採用執行緒池調度資料庫伺服器。" + "結語。" * 100
    marked = snippet(text, {"数据库"})
    assert marked.startswith("…") and marked.endswith("…") and "<em>資料庫</em>" in marked
    assert len(marked.replace("<em>", "").replace("</em>", "")) == 160 + 2
    assert snippet(text, {"氢能"}) is None
