"""services.text: script normalisation, term extraction and the field thesaurus (pure, no servers)."""


import pytest
import yaml

from services.text import (
    DEFAULT_THESAURUS,
    Thesaurus,
    default_thesaurus,
    extract_terms,
    normalise,
)

FIELDS = DEFAULT_THESAURUS.parent / "taxonomy" / "fields.yaml"


# ---------------------------------------------------------------------------------------------
# normalise


@pytest.mark.parametrize(
    ("written", "simplified"),
    [
        ("儲運", "储运"),  # Meilisearch's own normalisation misses these two (DOMAIN.md)
        ("關鍵材料", "关键材料"),
        ("氫能儲運裝備的關鍵材料", "氢能储运装备的关键材料"),
        ("軌道交通", "轨道交通"),
        ("鋰離子電池", "锂离子电池"),
        ("無人機", "无人机"),
    ],
)
def test_both_scripts_fold_to_one_form(written, simplified):
    assert normalise(written) == normalise(simplified) == simplified


@pytest.mark.parametrize(
    ("regional", "mainland"),
    [
        ("軟體", "软件"),  # Taiwan vocabulary, not only characters
        ("晶片", "芯片"),
        ("資料庫", "数据库"),
        ("資料中心", "数据中心"),
        ("人工智慧", "人工智能"),
        ("積體電路", "集成电路"),
        ("雷射切割", "激光切割"),
        ("奈米材料", "纳米材料"),
        ("碳化矽", "碳化硅"),
        ("3D列印", "3d打印"),
        ("演算法", "算法"),
        ("感測器", "传感器"),
        ("衞星互聯網", "卫星互联网"),  # a Hong Kong variant character that tw2sp alone leaves
        ("座標測量機", "坐标测量机"),
        ("智慧製造", "智能制造"),
    ],
)
def test_taiwan_and_hong_kong_vocabulary_folds(regional, mainland):
    assert normalise(regional) == mainland


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # OpenCC's Taiwan dictionary would make these 末端运行器, 内核技术, 指针, 串行, 光伏数组.
        ("末端執行器", "末端执行器"),
        ("核心技術", "核心技术"),
        ("核心技术", "核心技术"),
        ("性能指標", "性能指标"),
        ("基因序列", "基因序列"),
        ("光伏陣列", "光伏阵列"),
        ("電池模組", "电池模组"),
        ("塑膠管材", "塑胶管材"),  # mainland text in traditional characters
        ("即時檢測", "即时检测"),
        ("效果显著", "效果显著"),  # a lone 著 folds to 着, not in 显著
        ("尼日利亚", "尼日利亚"),
    ],
)
def test_words_with_their_own_meaning_are_not_rewritten(written, expected):
    assert normalise(written) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("ＡＩ　大模型", "ai 大模型"),  # full-width letters and the ideographic space
        ("ＰＬＣ控制柜", "plc控制柜"),
        ("功率１２０ｋＷ", "功率120kw"),
        ("（锂电池）", "(锂电池)"),
        ("UAV 巡检", "uav 巡检"),
        ("  锂电池\n\t储能  系统 ", "锂电池 储能 系统"),
        ("", ""),
    ],
)
def test_width_case_and_whitespace(written, expected):
    assert normalise(written) == expected


@pytest.mark.parametrize(
    "text",
    [
        "名優茶採摘全靠人工，旺季招不到人",
        "基于视觉识别的嫩芽定位与柔性采摘末端执行器",
        "Ｍｉｃｒｏ－ＬＥＤ 巨量轉移　良率",
        "顯著提升；著作權；隨著；著陸",
        "乾安縣 麼 尼日 哈薩克斯坦",
        "程式設計、程序、檔案、文件、資料、資訊",
    ],
)
def test_normalise_is_idempotent(text):
    once = normalise(text)
    assert normalise(once) == once


# ---------------------------------------------------------------------------------------------
# extract_terms

FIRM = "我们公司主要生产锂离子电池模组，目前电池热失控问题突出，希望寻求合作，研究电池热管理技术。"
UNIVERSITY = "本成果基于视觉识别的嫩芽定位技术，研制了一种柔性采摘末端执行器，可用于无人机和机器人采茶。"


@pytest.mark.parametrize(
    ("text", "whole", "fragments"),
    [
        (FIRM, "锂离子电池", ["锂离子", "离子"]),
        (FIRM, "热失控", ["失控"]),
        (UNIVERSITY, "末端执行器", ["末端", "执行器", "执行"]),
        (UNIVERSITY, "无人机", ["无人"]),
        (UNIVERSITY, "视觉识别", ["视觉", "识别"]),
    ],
    ids=["锂离子电池", "热失控", "末端执行器", "无人机", "视觉识别"],
)
def test_extraction_keeps_domain_terms_whole(text, whole, fragments):
    terms = [term for term, _ in extract_terms(text, top_k=30)]
    assert whole in terms
    assert not set(fragments) & set(terms)


@pytest.mark.parametrize(
    "generic", ["技术", "研究", "公司", "企业", "需求", "我们", "希望", "寻求", "合作", "问题", "一种", "基于"]
)
def test_extraction_drops_generic_words(generic):
    text = f"{FIRM}{UNIVERSITY}企业需求：进行方法、系统与装置研究。{generic}{generic}{generic}"
    assert generic not in [term for term, _ in extract_terms(text, top_k=50)]


def test_extraction_drops_numbers_and_single_characters():
    text = "年产500吨，2024年投产，预算三百万元，热失控预警，三元正极，电池的安全"
    terms = [term for term, _ in extract_terms(text, top_k=50)]
    assert "热失控预警" in terms and "三元" in terms  # 三元 (ternary) is no amount
    assert not any(term[0].isdigit() or len(term) < 2 for term in terms)
    assert "三百万元" not in terms


def test_extraction_weights_and_order():
    terms = extract_terms(FIRM + UNIVERSITY, top_k=8)
    assert len(terms) == 8
    weights = [weight for _, weight in terms]
    assert weights[0] == 1.0
    assert all(0 < weight <= 1 for weight in weights)
    assert weights == sorted(weights, reverse=True)
    assert extract_terms(FIRM + UNIVERSITY, top_k=8) == terms  # deterministic


def test_extraction_is_the_same_for_both_scripts():
    traditional = "本公司主要生產鋰離子電池模組，電池熱失控問題突出，尋求電池熱管理技術。"
    simplified = "本公司主要生产锂离子电池模组，电池热失控问题突出，寻求电池热管理技术。"
    assert extract_terms(traditional) == extract_terms(simplified)


@pytest.mark.parametrize(("text", "top_k"), [("", 10), ("的了和", 10), (FIRM, 0)])
def test_extraction_of_nothing(text, top_k):
    assert extract_terms(text, top_k) == []


# ---------------------------------------------------------------------------------------------
# the thesaurus


@pytest.fixture(scope="module")
def thesaurus() -> Thesaurus:
    return default_thesaurus()


@pytest.mark.parametrize(
    ("symptom", "technique"),
    [
        ("招工难", "机器人"),
        ("人工成本高", "自动化"),
        ("采摘", "末端执行器"),
        ("人工采摘", "采摘机器人"),
        ("热失控", "热管理"),
        ("熱失控", "阻燃电解液"),  # traditional input
        ("电池起火", "热失控预警"),
        ("能耗高", "余热回收"),
        ("废水", "膜分离"),
        ("污水", "水处理"),
        ("良率低", "缺陷检测"),
        ("良品率低", "机器视觉"),
        ("用工难", "机器人"),
        ("续航短", "低功耗设计"),
        ("农残超标", "快速检测"),
    ],
)
def test_a_symptom_expands_to_the_technique(thesaurus, symptom, technique):
    assert technique in thesaurus.expand(symptom)


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("锂电", "锂离子电池"),
        ("锂电池", "锂离子电池"),
        ("UAV", "无人机"),
        ("无人飞行器", "无人驾驶航空器"),
        ("AI", "人工智能"),
        ("光伏", "太阳能电池"),
        ("PLC", "可编程控制器"),
        ("数控", "cnc"),
        ("3D打印", "增材制造"),
        ("鋰電", "锂离子电池"),
        ("ＡＩ", "人工智能"),
    ],
)
def test_abbreviation_and_full_form_expand_both_ways(thesaurus, short, full):
    assert full in thesaurus.expand(short)
    assert normalise(short) in thesaurus.expand(full)


def test_expansion_puts_equivalents_before_techniques(thesaurus):
    expanded = thesaurus.expand("招工难")
    assert "招工难" not in expanded
    assert expanded.index("机器人") < expanded.index("自动化改造")  # a technique, then its equivalents


def test_a_technique_does_not_expand_back_to_the_symptom(thesaurus):
    assert "招工难" not in thesaurus.expand("机器人")
    assert "热失控" not in thesaurus.expand("热管理")


def test_an_unknown_term_expands_to_nothing(thesaurus):
    assert thesaurus.expand("完全没有收录的词") == []


def test_equivalents_are_mutual(thesaurus):
    assert "锂离子电池" in thesaurus.equivalents("锂电") and "锂电" in thesaurus.equivalents("锂离子电池")
    assert "uav" in thesaurus.equivalents("无人机") and "无人机" in thesaurus.equivalents("UAV")
    assert thesaurus.equivalents("招工难") == [] and thesaurus.equivalents("不存在的词") == []


@pytest.mark.parametrize(("query", "expected"), [
    ("锂电热失控", "锂离子电池热失控"),
    ("無人機巡檢", "无人机巡线"),
])
def test_query_variants_replace_known_terms_with_equivalents(thesaurus, query, expected):
    variants = thesaurus.query_variants(query)
    assert variants[0] == normalise(query) and expected in variants and len(variants) <= 5


def test_query_variants_of_an_unknown_query_is_the_query(thesaurus):
    assert thesaurus.query_variants("完全未知的东西") == ["完全未知的东西"]


def test_terms_are_normalised_and_include_every_kind(thesaurus):
    terms = thesaurus.terms()
    assert terms == sorted(set(terms))
    assert all(term == normalise(term) for term in terms)
    for term in ("锂离子电池", "uav", "招工难", "末端执行器", "嫩芽识别"):
        assert term in terms


def test_the_seed_thesaurus_covers_every_field(thesaurus):
    covered = set()
    entries = 0
    for path in DEFAULT_THESAURUS.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        covered.update(doc["fields"])
        entries += len(doc.get("equivalents") or []) + len(doc.get("problems") or [])
    fields = {field["code"] for field in yaml.safe_load(FIELDS.read_text(encoding="utf-8"))}
    assert fields <= covered, f"no thesaurus file covers {sorted(fields - covered)}"
    assert covered <= fields, f"unknown field codes {sorted(covered - fields)}"
    assert entries >= 400


def test_no_thesaurus_term_is_a_stop_word(thesaurus):
    assert thesaurus.stopwords >= {"技术", "研究", "公司", "企业", "需求", "合作", "系统", "装置", "一种", "基于"}
    assert not set(thesaurus.terms()) & thesaurus.stopwords


def test_load_normalises_and_reads_every_key(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "fields: [new_materials]\n"
        "equivalents:\n  - [碳纖維, CF材料]\n"
        "problems:\n  - {when: [腐蝕嚴重], then: [防腐塗層, 陰極保護]}\n"
        "terms: [ＰＥＥＫ]\n",
        encoding="utf-8",
    )
    (tmp_path / "stopwords.txt").write_text("# comment\n技術 研究  # trailing\n", encoding="utf-8")
    loaded = Thesaurus.load(tmp_path)
    assert loaded.expand("碳纤维") == ["cf材料"]
    assert loaded.expand("腐蚀严重") == ["防腐涂层", "阴极保护"]
    assert loaded.terms() == sorted(["碳纤维", "cf材料", "腐蚀严重", "防腐涂层", "阴极保护", "peek"])
    assert loaded.stopwords == {"技术", "研究"}


@pytest.mark.parametrize(
    "body",
    [
        "equivalents:\n  - [锂电, 锂电池]\n  - [锂电池, 动力电池]\n",  # one term in two groups
        "equivalents:\n  - [yes, 是]\n",  # YAML reads yes as a bool
        "problems:\n  - {when: [热失控]}\n",  # a rule without techniques
        "synonyms:\n  - [a, b]\n",  # an unknown key
    ],
)
def test_load_rejects_bad_data(tmp_path, body):
    (tmp_path / "bad.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(ValueError):
        Thesaurus.load(tmp_path)
