"""Reading import files: encodings as Chinese software writes them, and the CSV forms of list fields."""

import codecs

import pytest

from services.imports import _csv_row, decode

TEXTS = ["成果名称,技术领域\n基于视觉识别的茶叶嫩芽定位与柔性采摘末端执行器,人工智能\n",
         "需求,预算\n名优茶采摘全靠人工，旺季招不到人,30万元\n",
         "高性能锂电池正极材料低成本制备工艺\n"]
TRADITIONAL = ["成果名稱,技術領域\n基於視覺識別的茶葉嫩芽定位與柔性採摘末端執行器,人工智慧\n",
               "需求,預算\n名優茶採摘全靠人工，旺季招不到人,30萬元\n",
               "高性能鋰電池正極材料低成本製備工藝\n"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_simplified_text_decodes_from_what_mainland_software_writes(text, encoding):
    assert decode(text.encode(encoding)) == text


@pytest.mark.parametrize("text", TRADITIONAL)
@pytest.mark.parametrize("encoding", ["utf-8", "big5", "gb18030"])
def test_traditional_text_decodes_from_big5_too(text, encoding):
    assert decode(text.encode(encoding)) == text


def test_a_bom_is_not_part_of_the_first_column():
    assert decode(codecs.BOM_UTF8 + b"external_id") == "external_id"


@pytest.mark.parametrize(("cell", "records"), [
    ("发明专利:ZL202110123456.7:一种嫩芽识别方法; 软件著作权:2023SR0123456",
     [{"type": "发明专利", "number": "ZL202110123456.7", "title": "一种嫩芽识别方法"},
      {"type": "软件著作权", "number": "2023SR0123456"}]),
    ("invention_patent：ZL202110123456.7", [{"type": "invention_patent", "number": "ZL202110123456.7"}]),
    ("技术秘密", [{"type": "技术秘密"}]),
    ("技术秘密::配方：工艺 | 实用新型:ZL202120123456.1", [{"type": "技术秘密", "title": "配方：工艺"},
                                                   {"type": "实用新型", "number": "ZL202120123456.1"}]),
])
def test_ip_records_in_one_csv_cell(cell, records):
    assert _csv_row({"ip": cell})["ip"] == records


def test_attachments_in_one_csv_cell():
    row = _csv_row({"attachments": "成果简介:https://example.cn/a.pdf；检测报告：https://example.cn/b.pdf"})
    assert row["attachments"] == [{"title": "成果简介", "url": "https://example.cn/a.pdf"},
                                  {"title": "检测报告", "url": "https://example.cn/b.pdf"}]
