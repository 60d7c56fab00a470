"""Text of listings for search and matching: script normalisation, term extraction, the field thesaurus.

Listings arrive in simplified and traditional Chinese (Taiwan and Hong Kong vocabulary too), with
full-width letters and abbreviations; a need and an achievement must meet whichever way each was
written. Everything here is pure: data files and dictionaries are loaded lazily, once, on first use.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

#: The thesaurus and stop-words of the project (seed/thesaurus/*.yaml, stopwords.txt).
DEFAULT_THESAURUS = Path(__file__).resolve().parents[1] / "seed" / "thesaurus"

# ---------------------------------------------------------------------------------------------
# normalise

# OpenCC's Taiwan phrase dictionary (TWPhrasesRev) is written for software localisation, and some of
# its mappings are wrong in technical writing: 執行器 is an actuator, not a 运行器; 指標 an indicator,
# not a pointer; 核心技术 is not 内核技术; 序列, 向量, 行程, 陣列, 元件, 過載 keep their engineering
# sense. Some keys are plain simplified words too (核心, 程序, 序列), rewritten in simplified text.
# And the city publishes mainland text in traditional characters, where 資料, 取樣, 塑膠 mean what
# 资料, 取样, 塑胶 mean. These words get character conversion only; a longer Taiwan word that starts
# with one (資料庫 → 数据库, 執行緒 → 线程) still converts, because the longest match wins.
_KEEP_WORDS = (
    # engineering sense
    "執行 指標 核心 序列 向量 行程 程序 文件 元件 區域性 建立 影像 陣列 過載 外掛 相容 複製 排程 批次 "
    "效能 高階 低階 正規化 呼叫 "
    # words mainland writers use as well, in the same sense
    "資料 取樣 塑膠 通訊 模組 智慧 整合 設定 檔案 裝置 觸控 互動 離線 儲存 傳送 開啟 停用 啟用 新增 "
    "宣告 稽核 查詢 聯絡 存檔 列舉 簡報 擴音 匯入 自閉症 "
    # zhù words: OpenCC folds a lone 著 to 着 and keeps these only in their traditional form
    "显著 著录 著称 著于 著书 "
    # simplified words that a Taiwan key rewrites (防毒面具 is no 杀毒面具, 蚌埠 no 蚌端口)
    "防毒 存取 社群 桌布 蚌埠 理查德 "
    # names that grow on each pass (尼日 → 尼日尔 → 尼日尔尔) or by a Taiwan key inside them
    "尼日 塔吉克 厄瓜多 哈薩克斯坦 烏茲別克斯坦 土庫曼斯坦 歐萊雅"
).split()
# Traditional forms that OpenCC folds to a word mainland writers do not use (座標 → 座标, not 坐标).
_REGIONAL_FIXES = {"座標": "坐標", "想像": "想象"}


@cache
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
    converter = _converter()
    # A few conversions chain (乾安縣 → 乾安县 → 干安县, 麼 → 么 → 幺): converting until nothing
    # changes makes the result a fixed point, so indexed and queried forms agree however often they
    # were normalised. Simplified text stops after one pass, traditional text after two.
    for _ in range(4):
        converted = converter.convert(text)
        if converted == text:
            break
        text = converted
    return " ".join(text.lower().split())
