"""Text of listings for search and matching: script normalisation, term extraction, the field thesaurus.

Listings arrive in simplified and traditional Chinese (Taiwan and Hong Kong vocabulary too), with
full-width letters and abbreviations; a need and an achievement must meet whichever way each was
written. Everything here is pure: data files and dictionaries are loaded lazily, once, on first use.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import tempfile
import threading
import unicodedata
import warnings
from collections.abc import Iterable
from pathlib import Path

import yaml

#: The thesaurus and stop-words of the project (seed/thesaurus/*.yaml, stopwords.txt).
DEFAULT_THESAURUS = Path(__file__).resolve().parents[1] / "seed" / "thesaurus"

# ---------------------------------------------------------------------------------------------
# normalise

# OpenCC's Taiwan phrase dictionary (TWPhrasesRev) is written for software localisation, and some of
# its mappings are wrong in technical writing: 執行器 is an actuator, not a 运行器; 指標 an indicator,
# not a pointer; 核心技术 is not 内核技术; 序列, 行程, 陣列, 元件, 過載 keep their engineering sense.
# Some keys are plain simplified words too (核心, 程序, 序列) and would be rewritten in simplified
# text. And the city publishes mainland text in traditional characters, where 取樣, 塑膠, 即時 mean
# what 取样, 塑胶, 即时 mean, so those must not become 采样, 塑料, 实时 while the simplified text keeps
# its word (資料 does become 数据: Taiwan writes it for data everywhere, 資料中心, 資料分析). These
# words get character conversion only; a longer Taiwan word that starts with one (執行緒 → 线程,
# 序列埠 → 串口) still converts, because the longest match wins. Keys that are
# simplified words with the same sense (智慧 → 智能, 整合 → 集成, 排程 → 调度) fold in both scripts
# alike, which only helps matching, so they are left to OpenCC.
_KEEP_WORDS = (
    # a different thing in engineering or in mainland usage
    "執行 指標 核心 序列 行程 程序 文件 元件 區域性 建立 影像 陣列 過載 外掛 複製 批次 高階 低階 "
    "正規化 呼叫 防毒 "
    # traditional forms of words mainland writers use in the same sense (the thesaurus bridges the
    # ones that matter: 通讯 / 通信, 电池模组 / 电池模块, 塑胶 / 塑料, 即时监测 / 实时监测)
    "取樣 塑膠 通訊 模組 即時 設定 檔案 裝置 觸控 互動 離線 儲存 傳送 開啟 啟用 查詢 聯絡 存檔 "
    "列舉 簡報 擴音 匯入 自閉症 "
    # 軟體 is software, but 軟體機器人 a soft robot; 網絡卡 a network card, but not in 網絡卡頓
    "軟體機器人 軟體夾爪 軟體手爪 網絡卡頓 "
    # zhù words: OpenCC folds a lone 著 to 着 but keeps these only in their traditional form
    "显著 著录 著称 著于 著书 "
    # names: a Taiwan key inside them (蚌埠 is no 蚌端口) or one that grows on each pass (尼日 → 尼日尔)
    "蚌埠 理查德 尼日 塔吉克 厄瓜多 哈薩克斯坦 烏茲別克斯坦 土庫曼斯坦 歐萊雅"
).split()
# Traditional forms that OpenCC folds to a word mainland writers do not use (座標 → 座标, not 坐标).
_REGIONAL_FIXES = {"座標": "坐標", "想像": "想象", "鏇修": "镟修"}


@functools.cache
def _converter():
    """OpenCC tw2sp (Taiwan phrases → mainland) with the Hong Kong dictionaries of hk2sp merged in.

    tw2sp alone leaves Hong Kong variant characters (衞星 stays 衞星), and hk2s alone folds no
    vocabulary (軟體, 晶片, 資料庫 stay); chaining the two converters does not help either, since the
    second one sees simplified text. So the regional step of tw2sp gets hk2sp's dictionaries and our
    kept words, and takes the longest match among them ("union"; on a tie the first listed wins).
    """
    import opencc

    share = Path(opencc.OpenCC("tw2sp").config).parent
    config = json.loads((share / "tw2sp.json").read_text(encoding="utf-8"))
    ours = {word: word for word in _KEEP_WORDS} | _REGIONAL_FIXES
    regional = [{"type": "inline", "entries": ours}]
    for name in ("tw2sp.json", "hk2sp.json"):
        first = json.loads((share / name).read_text(encoding="utf-8"))["conversion_chain"][0]["dict"]
        regional += [d for d in first["dicts"] if d not in regional]
    config["conversion_chain"][0] = {"dict": {"type": "group", "match_policy": "union", "dicts": regional}}

    def absolute(node):
        if isinstance(node, dict):
            if node.get("type") == "ocd2":
                node["file"] = str(share / node["file"])
            for value in node.values():
                absolute(value)
        elif isinstance(node, list):
            for value in node:
                absolute(value)

    absolute(config)
    # The binding reads a configuration only from a file; dictionaries are loaded whole on
    # construction, so the file can go right after.
    with tempfile.TemporaryDirectory(prefix="market-opencc-") as folder:
        path = Path(folder) / "market.json"
        path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        return opencc.OpenCC(str(path))


def normalise(text: str) -> str:
    """The search and matching form of a text: NFKC (full-width → half-width), traditional → simplified
    with Taiwan and Hong Kong vocabulary folded (軟體 → 软件, 晶片 → 芯片), lower case, whitespace
    collapsed to single spaces. Idempotent. Keep the original text for display."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # nothing for OpenCC to do in ASCII
        # OpenCC needs valid UTF-8; a lone surrogate (possible in JSON input) would make it raise.
        text = text.encode("utf-8", "replace").decode("utf-8")
        converter = _converter()
        # A few conversions chain (乾安縣 → 乾安县 → 干安县, 麼 → 么 → 幺): converting until nothing
        # changes makes the result a fixed point, so indexed and queried forms agree however often
        # they were normalised. Simplified text stops after one pass, traditional text after two.
        for _ in range(4):
            converted = converter.convert(text)
            if converted == text:
                break
            text = converted
    return " ".join(text.lower().split())


# ---------------------------------------------------------------------------------------------
# thesaurus


class Thesaurus:
    """The field thesaurus of seed/thesaurus/*.yaml (the format is in each file's header), normalised.

    Equivalents (锂电 / 锂离子电池, AI / 人工智能) are mutual synonyms; problem rules map the words a
    firm writes for a symptom (招工难, 热失控) one way to the technique terms a university writes for
    what solves it (机器人, 热管理). ``stopwords`` are the generic words of listings (stopwords.txt).
    """

    def __init__(
        self,
        equivalents: Iterable[Iterable[str]] = (),
        problems: Iterable[tuple[Iterable[str], Iterable[str]]] = (),
        terms: Iterable[str] = (),
        stopwords: Iterable[str] = (),
    ) -> None:
        self._groups: list[list[str]] = []
        self._group_of: dict[str, list[str]] = {}
        for group in equivalents:
            group = _unique(normalise(t) for t in group)
            for term in group:
                if term in self._group_of:
                    raise ValueError(f"thesaurus: {term!r} is in two groups of equivalents")
                self._group_of[term] = group
            self._groups.append(group)
        # problem word → technique terms, in rule order; a word may appear in several rules.
        self._techniques: dict[str, list[str]] = {}
        for when, then in problems:
            then = _unique(normalise(t) for t in then)
            for word in _unique(normalise(t) for t in when):
                self._techniques[word] = _unique([*self._techniques.get(word, []), *then])
        self._terms = _unique(normalise(t) for t in terms)
        self.stopwords: frozenset[str] = frozenset(normalise(w) for w in stopwords) - {""}

    @classmethod
    def load(cls, folder: Path) -> Thesaurus:
        """Read every *.yaml of ``folder`` (in name order) and its stopwords.txt, if there is one."""
        folder = Path(folder)
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise FileNotFoundError(f"thesaurus: no *.yaml in {folder}")
        equivalents: list[list[str]] = []
        problems: list[tuple[list[str], list[str]]] = []
        terms: list[str] = []
        for path in files:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
            if not isinstance(doc, dict):
                raise ValueError(f"{path.name}: expected a mapping of fields, equivalents, problems, terms")
            unknown = set(doc) - {"fields", "equivalents", "problems", "terms"}
            if unknown:
                raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
            equivalents += [_strings(path, group) for group in doc.get("equivalents") or []]
            for rule in doc.get("problems") or []:
                if not isinstance(rule, dict) or set(rule) != {"when", "then"}:
                    raise ValueError(f"{path.name}: a problem needs exactly 'when' and 'then': {rule}")
                problems.append((_strings(path, rule["when"]), _strings(path, rule["then"])))
            terms += _strings(path, doc.get("terms") or [])
        stopwords: list[str] = []
        if (folder / "stopwords.txt").exists():
            for line in (folder / "stopwords.txt").read_text(encoding="utf-8").splitlines():
                stopwords += line.split("#", 1)[0].split()
        return cls(equivalents, problems, terms, stopwords)

    def terms(self) -> list[str]:
        """Every term of the thesaurus, sorted: the words the segmenter must keep whole."""
        found = set(self._group_of) | set(self._terms) | set(self._techniques)
        for techniques in self._techniques.values():
            found.update(techniques)
        return sorted(found)

    def equivalents(self, term: str) -> list[str]:
        """The other terms of ``term``'s group of equivalents (锂电 → 锂离子电池, 锂电池)."""
        term = normalise(term)
        return [t for t in self._group_of.get(term, []) if t != term]

    def query_variants(self, query: str, limit: int = 4) -> list[str]:
        """The query, then the query with a known term replaced by one of its equivalents.

        The search indexes carry no Meilisearch synonyms (thousands of them cost ~4 ms on every query,
        and matching sends a dozen queries at once), so search sends these variants itself.
        """
        query = normalise(query)
        variants = [query]
        covered: list[str] = []
        # Only the known terms that begin with a character of the query can occur in it, longest first.
        candidates = sorted({t for c in set(query) for t in self._by_first.get(c, ())}, key=lambda t: (-len(t), t))
        for term in candidates:
            if len(variants) > limit:
                break
            if term in query and not any(term in longer for longer in covered):
                covered.append(term)
                variants += [query.replace(term, other) for other in self.equivalents(term)[:2]]
        return _unique(variants)[: limit + 1]

    @functools.cached_property
    def _by_first(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for term in self._group_of:
            index.setdefault(term[0], []).append(term)
        return index

    def expand(self, term: str) -> list[str]:
        """Terms to search for besides ``term``, most specific first: its equivalents, then the
        techniques it (or an equivalent) points to, then the equivalents of those techniques.
        Empty for a term the thesaurus does not know."""
        term = normalise(term)
        equivalents = self._group_of.get(term, [term])
        techniques = _unique(t for word in equivalents for t in self._techniques.get(word, []))
        around = [e for t in techniques for e in self._group_of.get(t, [])]
        return [t for t in _unique([*equivalents, *techniques, *around]) if t != term]


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader parses ~10x faster


def _unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order, without repeats or empty strings."""
    return [item for item in dict.fromkeys(items) if item]


def _strings(path: Path, items) -> list[str]:
    # YAML turns a bare yes/no/1.5 into bool or float; a term must be written as text.
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{path.name}: expected a list of strings, got {items!r}")
    return items


@functools.cache
def default_thesaurus() -> Thesaurus:
    """The project's thesaurus, seed/thesaurus/, loaded once."""
    return Thesaurus.load(DEFAULT_THESAURUS)


# ---------------------------------------------------------------------------------------------
# term extraction

# What the segmenter can keep as one token (jieba's own pattern for a run of "Chinese" text).
_SEGMENTABLE = re.compile(r"[\u4e00-\u9fd5a-z0-9+#&._%\-]+")
_HAS_WORD = re.compile(r"[\u4e00-\u9fffa-z]")
# Amounts in Chinese numerals (三百万元, 五万, 十亿); 三元 (ternary, as in 三元锂) is not one.
_AMOUNT = re.compile(r"[零〇一二两三四五六七八九十百千万亿]{2,}元|[零〇一二两三四五六七八九十百千]+[万亿]元?")


class _Extractor:
    """jieba's TF-IDF keyword extraction over our own tokenizer (with the thesaurus terms in its
    dictionary) and stop-words. It reads jieba's IDF table directly: importing jieba.analyse would
    also load the part-of-speech tagger (about 0.8 s) that plain TF-IDF does not use."""

    def __init__(self, thesaurus: Thesaurus) -> None:
        with warnings.catch_warnings():  # jieba 0.42 has regex strings with invalid escapes
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", SyntaxWarning)
            import jieba

        jieba.setLogLevel(logging.WARNING)  # jieba logs its dictionary loading at INFO to stderr
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        self.known = frozenset(thesaurus.terms())
        for term in sorted(self.known):
            if _SEGMENTABLE.fullmatch(term):
                self.tokenizer.add_word(term)
        self.stopwords = thesaurus.stopwords
        self.idf: dict[str, float] = {}
        with open(Path(jieba.__file__).parent / "analyse" / "idf.txt", encoding="utf-8") as lines:
            for line in lines:
                word, value = line.split(" ")
                self.idf[word] = float(value)
        self.median_idf = sorted(self.idf.values())[len(self.idf) // 2]

    def keeps(self, word: str) -> bool:
        if word in self.known:
            return True
        if len(word) < 2 or word in self.stopwords:
            return False
        # Numbers, amounts, measurements (500kg, 0.1mm) and punctuation are not terms.
        return not word[0].isdigit() and _HAS_WORD.search(word) is not None and not _AMOUNT.fullmatch(word)

    def extract(self, text: str, top_k: int) -> list[tuple[str, float]]:
        counts: dict[str, int] = {}
        for word in self.tokenizer.cut(text):
            if self.keeps(word):
                counts[word] = counts.get(word, 0) + 1
        scores = {word: n * self.idf.get(word, self.median_idf) for word, n in counts.items()}
        # On a tie (thesaurus terms missing from the IDF table share its median) the longer, more
        # specific term goes first; then the term itself, so the order never depends on the input order.
        ranked = sorted(scores.items(), key=lambda item: (-item[1], -len(item[0]), item[0]))[:top_k]
        if not ranked:
            return []
        top = ranked[0][1]
        return [(word, round(score / top, 4)) for word, score in ranked]


_extractor: _Extractor | None = None
_extractor_lock = threading.Lock()


def _default_extractor() -> _Extractor:
    global _extractor
    if _extractor is None:
        with _extractor_lock:  # building takes about a second; two threads must not both pay it
            if _extractor is None:
                _extractor = _Extractor(default_thesaurus())
    return _extractor


def extract_terms(text: str, top_k: int = 10) -> list[tuple[str, float]]:
    """The ``top_k`` most characteristic terms of ``text`` (normalised first), by jieba TF-IDF, with
    weights relative to the best term (which has 1.0). Thesaurus terms stay whole (锂离子电池,
    末端执行器); stop-words, single characters and numbers are dropped. Equal weights are ordered
    longer term first, then by the term, so the order is deterministic."""
    text = normalise(text)
    if not text or top_k <= 0:
        return []
    return _default_extractor().extract(text, top_k)
