"""Highlights over the text as its author wrote it (traditional script, full-width letters…).

Meilisearch matches the normalised text (`*_n`, services.text.normalise); the terms it marked there are
found again in the normalised form of the original, and each span is mapped back through an alignment
of the original with its normalised form, built character by character. OpenCC converts some phrases
as a whole (執行緒 → 线程: three characters become two); where one character alone does not give what
the phrase gave, the smallest run of characters on both sides that normalise alike is aligned as one
block, and a highlight inside it covers the whole block.
"""

import functools
import re

from services.text import normalise

EM, END = "<em>", "</em>"
_MARKED = re.compile(re.escape(EM) + "(.*?)" + re.escape(END), re.S)
_BLOCK = 6  # the longest phrase OpenCC converts as a whole that we align, in characters
SNIPPET = 160  # characters of a long text shown around its first match


def marked_terms(formatted: str) -> set[str]:
    """The terms Meilisearch wrapped in <em> in a formatted (normalised) text."""
    return {term for term in _MARKED.findall(formatted) if term.strip()}


@functools.lru_cache(maxsize=20_000)
def _one(character: str) -> str:
    return normalise(character)


def align(original: str) -> tuple[str, list[tuple[int, int]]]:
    """The normalised text, and for each of its characters the span of the original it comes from."""
    target = normalise(original)
    if target == original:  # most text is already simplified and plain: each character is its own span
        return target, [(i, i + 1) for i in range(len(original))]
    spans: list[tuple[int, int]] = []
    began: dict[int, int] = {}  # original index → where its normalised form begins
    i = 0
    while i < len(original) and len(spans) < len(target):
        j = began[i] = len(spans)
        if original[i].isspace():  # runs of whitespace became one space, or nothing at either end
            if target[j] == " " and (i == 0 or not original[i - 1].isspace()):
                spans.append((i, i + 1))
            i += 1
            continue
        piece = _one(original[i])
        if piece and target.startswith(piece, j):
            spans += [(i, i + 1)] * len(piece)
            i += 1
            continue
        # A phrase converted as a whole may have begun a few characters back (軟 → 软 alone, but
        # 軟體 → 软件): retry from there with blocks that reach past this character.
        for back in range(min(_BLOCK, i) + 1):
            start = i - back
            if start not in began or original[start].isspace():
                continue
            block = _block(original, start, target, began[start], back + 1)
            if block is not None:
                del spans[began[start]:]
                a, b = block
                spans += [(start, start + a)] * b
                i = start + a
                break
        else:  # cannot align the rest: leave it unmapped rather than guess
            break
    return target, spans


def _block(original: str, i: int, target: str, j: int, least: int) -> tuple[int, int] | None:
    for a in range(least, _BLOCK + 1):
        converted = normalise(original[i:i + a])
        if converted and target.startswith(converted, j):
            return a, len(converted)
    return None


def highlight(original: str, terms: set[str]) -> str | None:
    """The original text with every occurrence of the terms wrapped in <em>…</em>; None when none occurs."""
    if not original or not terms:
        return None
    target, spans = align(original)
    marks: list[tuple[int, int]] = []
    for term in terms:
        term = normalise(term)
        start = target.find(term) if term else -1
        while start != -1:
            end = start + len(term)
            if end <= len(spans):
                marks.append((spans[start][0], spans[end - 1][1]))
            start = target.find(term, end)
    if not marks:
        return None
    merged: list[list[int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out += [original[at:start], EM, original[start:end], END]
        at = end
    out.append(original[at:])
    return "".join(out)


def snippet(original: str, terms: set[str], width: int = SNIPPET) -> str | None:
    """`highlight` over a window of a long text (a summary): `width` characters from a little before
    the first match, with … where it was cut. The match is located on a character-by-character
    normalisation (cheap, cached), so only the window is aligned exactly."""
    if len(original) <= width:
        return highlight(original, terms)
    rough, origin = [], []
    for index, character in enumerate(original):
        piece = " " if character.isspace() else _one(character)
        rough.append(piece)
        origin += [index] * len(piece)
    wanted = [t for t in (normalise(t) for t in terms) if t]
    text = "".join(rough)
    found = [origin[at] for term in wanted if (at := text.find(term)) != -1]
    if not found:  # a term only a phrase conversion yields (資料庫 → 数据库): align the whole text
        target, spans = align(original)
        found = [spans[at][0] for term in wanted if (at := target.find(term)) != -1 and at < len(spans)]
    start = max(0, min(found) - width // 5) if found else 0
    marked = highlight(original[start:start + width], terms)
    if marked is None:
        return None
    return ("…" if start else "") + marked + ("…" if start + width < len(original) else "")
