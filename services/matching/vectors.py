"""What the worker derives from a listing's text, kept in PostgreSQL (`listing_vector`) so that an index
build or a match reads it instead of deriving it again: the listing's sentence vector (the encoder costs
~10-30 ms a listing: 100,000 listings are ~40 min of a core) and its own query terms (segmentation: ~1 ms,
on every live match).

A stored vector is current while its listing's text (`text_hash` of `semantic.listing_parts`, as written:
hashing needs no normalising) and the encoder (`semantic.MODEL`) are the ones it was computed from; stored
terms while their key (`terms.own_terms_key`: the text and the code that picks them) is. The worker derives
again only then.
"""

import asyncio
import hashlib
import uuid
from collections.abc import Iterable

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.enums import ListKind
from schemas.tables import Achievement, ListingVector, Need
from services.matching.offload import off_the_loop
from services.matching.semantic import MODEL, encode, listing_parts, listing_text
from services.matching.terms import QueryTerm, own_terms_key, own_terms_of_row, terms_of_row

# What a reader selects beside a listing row (outer-joined: all None when the listing has none yet).
STORED = (ListingVector.model, ListingVector.text_hash, ListingVector.vector, ListingVector.terms_key,
          ListingVector.terms)


def text_hash(row: Achievement | Need) -> str:
    return hashlib.sha256("\x1f".join(listing_parts(row)).encode()).hexdigest()[:32]


def pack(vector: list[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def unpack(blob: bytes) -> list[float]:
    """Rounded to 5 decimals as the encoder's output is: the cosine stays exact to 1e-5 and the JSON
    sent to Meilisearch stays half as long as float32's full digits."""
    return np.frombuffer(blob, dtype=np.float32).astype(np.float64).round(5).tolist()


def current(row: Achievement | Need, stored: tuple | None) -> bytes | None:
    """The stored vector if it was computed from this text with this encoder, else None."""
    if stored is None or stored[2] is None:
        return None
    model, hashed, blob = stored[:3]
    return blob if model == MODEL and hashed == text_hash(row) else None


def current_terms(row: Achievement | Need, stored: tuple | None) -> list[QueryTerm] | None:
    """The stored own terms if they were picked from this text by this code, else None."""
    if stored is None or stored[4] is None or stored[3] != own_terms_key(row):
        return None
    return [QueryTerm(term, weight, origin) for term, weight, origin in stored[4]]


async def store(session: AsyncSession, kind: ListKind, rows: list, blobs: list[bytes],
                terms: list[list[QueryTerm]]) -> None:
    """Upsert the vectors (`pack`ed) and own terms of these listings (the caller's transaction)."""
    if not rows:
        return
    statement = insert(ListingVector).values([
        {"listing_id": row.id, "kind": kind.value, "model": MODEL, "text_hash": text_hash(row), "vector": blob,
         "terms_key": own_terms_key(row), "terms": [[t.term, t.weight, t.origin] for t in own]}
        for row, blob, own in zip(rows, blobs, terms, strict=True)])
    await session.execute(statement.on_conflict_do_update(index_elements=["listing_id"], set_={
        name: statement.excluded[name]
        for name in ("kind", "model", "text_hash", "vector", "terms_key", "terms", "updated_at")}))


async def forget(session: AsyncSession, ids: Iterable[uuid.UUID]) -> None:
    """Deleted listings' vectors (an unpublished one keeps its own: republishing costs no encoding)."""
    if ids := list(ids):
        await session.execute(delete(ListingVector).where(ListingVector.listing_id.in_(ids)))


async def vectors_and_terms(sessions, kind: ListKind, entries: list[tuple]
                            ) -> dict[uuid.UUID, tuple[list[float], list[QueryTerm]]]:
    """Each listing's vector and own terms: (row, stored) pairs, `stored` the STORED columns read with the
    row. What is stale or missing is derived off the event loop (only that: a new encoder does not pick
    terms again, new term rules do not encode), without a connection held, then stored in one short
    transaction of its own."""
    blobs = {row.id: current(row, stored) for row, stored in entries}
    terms = {row.id: current_terms(row, stored) for row, stored in entries}
    stale = [row for row, _ in entries if blobs[row.id] is None or terms[row.id] is None]
    if stale:
        unencoded = [row for row in stale if blobs[row.id] is None]
        encoded = await off_the_loop(encode, [listing_text(row) for row in unencoded])
        blobs.update((row.id, pack(vector)) for row, vector in zip(unencoded, encoded, strict=True))
        unpicked = [row for row in stale if terms[row.id] is None]
        picked = await off_the_loop(lambda chunk: [own_terms_of_row(row) for row in chunk], unpicked)
        terms.update((row.id, own) for row, own in zip(unpicked, picked, strict=True))
        async with sessions() as session, session.begin():
            await store(session, kind, stale, [blobs[row.id] for row in stale], [terms[row.id] for row in stale])
    return {listing_id: (unpack(blob), terms[listing_id]) for listing_id, blob in blobs.items()}


async def own_vector(session: AsyncSession, row: Achievement | Need) -> list[float]:
    """One listing's vector for a match (see `vector_for`)."""
    stored = (await session.execute(select(*STORED).where(ListingVector.listing_id == row.id))).first()
    return await vector_for(row, tuple(stored) if stored else None)


async def vector_for(row: Achievement | Need, stored: tuple | None) -> list[float]:
    """The stored vector (`stored`: the STORED columns read with the row, None if it has none) or (a draft,
    or a listing whose edit the worker has not reached yet) encoded now, not stored (the worker stores
    what it indexes)."""
    if (blob := current(row, stored)) is not None:
        return unpack(blob)
    return (await asyncio.to_thread(encode, [listing_text(row)]))[0]


async def terms_for(row: Achievement | Need, stored: tuple | None, learned: dict[str, list[str]] | None
                    ) -> list[QueryTerm]:
    """A listing's query terms (`terms.terms_of_row`) from its stored own terms, or (a draft, or a listing
    whose edit the worker has not reached yet) picked now, off the event loop."""
    if (own := current_terms(row, stored)) is not None:
        return terms_of_row(row, learned, own)
    return await asyncio.to_thread(terms_of_row, row, learned)
