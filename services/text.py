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
# its mappings are wrong in technical writing of either script: 執行器 is an actuator, not a 运行器;
# 指標 is an indicator, not a pointer; 核心技术 is not 内核技术; 序列, 向量, 行程, 陣列, 元件 keep their
# engineering sense. Several keys are also plain simplified words (核心, 程序, 序列 …) that the stock
# conversion rewrites in simplified text. Words where mainland writers use the same word as Taiwan
# (通讯, 模组, 整合, 装置, 离线, 储存 …) are kept too, or a traditional text would fold to a word the
# simplified one never uses. These get character conversion only. The first dictionary that matches
# wins, so a longer Taiwan word that starts with a kept word is listed again with its conversion.
_KEEP_WORDS = (
    "執行 指標 核心 序列 向量 行程 程序 文件 元件 區域性 建立 影像 模組 智慧 整合 效能 排程 批次 相容 "
    "呼叫 通訊 設定 檔案 裝置 觸控 互動 離線 儲存 傳送 開啟 停用 新增 宣告 稽核 高階 低階 陣列 查詢 "
    "聯絡 複製 啟用 自閉症 正規化"
).split()
_KEEP_LONGER = {
    "執行緒": "線程",
    "執行檔": "可執行文件",
    "執行長": "首席執行官",
    "序列埠": "串口",
    "智慧財產權": "知識產權",
    "觸控式螢幕": "觸摸屏",
}


@cache
def _converter():
    """OpenCC tw2sp (Taiwan phrases → mainland) with the Hong Kong dictionaries of hk2sp chained in.

    tw2sp alone leaves Hong Kong variant characters (衞星 stays 衞星), and hk2s alone folds no
    vocabulary (軟體, 晶片, 資料庫 stay). One conversion with both phrase sets, our kept words first,
    does both in a single pass.
    """
    import opencc

    share = Path(opencc.OpenCC("tw2sp").config).parent
    config = json.loads((share / "tw2sp.json").read_text(encoding="utf-8"))
    hk_first = json.loads((share / "hk2sp.json").read_text(encoding="utf-8"))["conversion_chain"][0]

    regional = config["conversion_chain"][0]["dict"]["dicts"]
    known = {d["file"] for d in regional}
    regional += [d for d in hk_first["dict"]["dicts"] if d["file"] not in known]
    # Phrases before single-character variants: within a group the first dictionary that matches wins.
    regional.sort(key=lambda d: "Phrases" not in d["file"])
    regional.insert(0, {"type": "text", "file": "market_keep.txt"})

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
    keep = {word: word for word in _KEEP_WORDS} | _KEEP_LONGER
    # OpenCC reads a configuration and its text dictionaries only from files; it loads them whole,
    # so the directory can go once the converter exists.
    with tempfile.TemporaryDirectory(prefix="market-opencc-") as folder:
        (Path(folder) / "market_keep.txt").write_text(
            "".join(f"{k}\t{v}\n" for k, v in sorted(keep.items())), encoding="utf-8"
        )
        (Path(folder) / "market.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        return opencc.OpenCC(str(Path(folder) / "market.json"))


def normalise(text: str) -> str:
    """The search and matching form of a text: NFKC (full-width → half-width), traditional → simplified
    with Taiwan and Hong Kong vocabulary folded (軟體 → 软件, 晶片 → 芯片), lower case, whitespace
    collapsed to single spaces. Idempotent. Keep the original text for display."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _converter().convert(text)
    return " ".join(text.lower().split())
