"""`market match --all`'s vector candidates without a Meilisearch query per listing.

A phase of `match --all` loads the other list's published vectors once from `listing_vector` and finds
each batch's nearest counterparts by one matrix product (batch × dims · dims × N), exactly, where the
live match asks Meilisearch's approximate index (one HNSW search per listing: most of a batch's
Meilisearch time). Exact search can only find the same neighbours or closer ones. The matrix is
float32: ~200 MB for 100,000 listings of 512 dimensions, acceptable for a batch job (the live path and
the worker never load it).

The vector-only candidates' documents (what scoring reads, `engine.RETRIEVE`) come from one placeholder
search per batch filtered by id, kept for the run (`Documents`), as the term answers are.
"""

import asyncio
import uuid

import numpy as np
from sqlalchemy import select

from schemas.enums import ListingStatus, ListKind
from schemas.tables import ListingVector
from services import kinds
from services.matching.engine import MIN_SIMILARITY, RETRIEVE
from services.matching.semantic import DIMENSIONS, MODEL
from services.search.queries import quote

FETCH_PER_QUERY = 1000  # ids in one filtered query (Meilisearch's maxTotalHits is 5,000)


class Nearest:
    """The published vectors of one list (loaded on first use), and each listing's nearest ones."""

    def __init__(self, sessions, kind: ListKind):
        self.sessions, self.kind = sessions, kind
        self._loading: asyncio.Task | None = None

    async def _load(self) -> tuple[list[str], np.ndarray, dict[uuid.UUID, np.ndarray]]:
        table = kinds.TABLES[self.kind]
        async with self.sessions() as session:
            found = (await session.execute(
                select(ListingVector.listing_id, table.organisation_id, ListingVector.vector)
                .join(table, table.id == ListingVector.listing_id)
                .where(table.status == ListingStatus.published, ListingVector.model == MODEL)
                .order_by(ListingVector.listing_id))).all()

        def build():
            matrix = np.frombuffer(b"".join(blob for _, _, blob in found), dtype=np.float32).reshape(-1, DIMENSIONS)
            owners: dict[uuid.UUID, list[int]] = {}
            for position, (_, organisation_id, _) in enumerate(found):
                owners.setdefault(organisation_id, []).append(position)
            return ([str(listing_id) for listing_id, _, _ in found], matrix,
                    {organisation_id: np.array(positions) for organisation_id, positions in owners.items()})

        return await asyncio.to_thread(build)

    async def similar(self, listings: list[tuple[uuid.UUID, list[float]]], pool: int
                      ) -> list[list[tuple[str, float]]]:
        """For each (owner organisation, vector): the `pool` most similar published listings of the other
        organisations, as (id, cosine), most similar first."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        ids, matrix, owned = await asyncio.shield(self._loading)
        if not listings or not ids:
            return [[] for _ in listings]

        def search() -> list[list[tuple[str, float]]]:
            queries = np.asarray([vector for _, vector in listings], dtype=np.float32)
            cosines = queries @ matrix.T
            for row, (organisation_id, _) in enumerate(listings):
                if (own := owned.get(organisation_id)) is not None:
                    cosines[row, own] = -np.inf  # the listing's own organisation is no match
            count = min(pool, len(ids))
            top = np.argpartition(-cosines, count - 1, axis=1)[:, :count] if count < len(ids) else \
                np.broadcast_to(np.arange(len(ids)), (len(listings), len(ids)))
            out = []
            for row, positions in enumerate(top):
                values = cosines[row, positions]
                order = np.lexsort((positions, -values))  # ties by position: the same run ranks the same
                out.append([(ids[p], float(v)) for p, v in zip(positions[order], values[order], strict=True)
                            if v != -np.inf])
            return out

        return await asyncio.to_thread(search)


class Documents:
    """A run's documents of the other list (the RETRIEVE fields), each fetched at most once."""

    def __init__(self, search, kind: ListKind):
        self.search, self.kind = search, kind
        self._documents: dict[str, dict | None] = {}

    async def get(self, ids: set[str], known: dict[str, dict]) -> dict[str, dict]:
        """These documents (an id the index does not hold is left out); `known`: ones already at hand
        (the batch's term answers), kept for later batches."""
        for doc_id in ids & known.keys() - self._documents.keys():
            self._documents[doc_id] = known[doc_id]
        missing = sorted(ids - self._documents.keys())
        if missing:
            queries = [{"indexUid": self.search.uid(self.kind), "q": "", "limit": len(chunk),
                        "filter": f"id IN [{', '.join(map(quote, chunk))}]", "attributesToRetrieve": RETRIEVE}
                       for chunk in (missing[i:i + FETCH_PER_QUERY] for i in range(0, len(missing), FETCH_PER_QUERY))]
            response = await self.search.client.multi_search(queries)
            self._documents.update((hit["id"], hit) for result in response["results"] for hit in result["hits"])
            for doc_id in missing:
                self._documents.setdefault(doc_id, None)
        return {doc_id: doc for doc_id in ids if (doc := self._documents[doc_id]) is not None}


def vector_hits(similar: list[tuple[str, float]], documents: dict[str, dict]) -> list[dict]:
    """A listing's neighbours as the hits of a vector query (`engine.fuse` reads Meilisearch's ranking
    score, (1 + cosine) / 2): a neighbour similar enough to become a candidate carries its document."""
    hits = []
    for doc_id, cosine in similar:
        if cosine < MIN_SIMILARITY:
            hits.append({"id": doc_id, "_rankingScore": (1.0 + cosine) / 2.0})
        elif (doc := documents.get(doc_id)) is not None:
            hits.append({**doc, "_rankingScore": (1.0 + cosine) / 2.0})
    return hits
