"""Listings' sentence vectors kept in PostgreSQL (`listing_vector`), so that an index build or a match
reads them instead of running the encoder (~10-30 ms a listing: 100,000 listings are ~40 min of a core).

A stored vector is current while its listing's text (`text_hash` of `semantic.listing_parts`, as written:
hashing needs no normalising) and the encoder (`semantic.MODEL`) are the ones it was computed from; the
worker encodes again only then.
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

# What a reader selects beside a listing row (outer-joined: None when the listing has no vector yet).
STORED = (ListingVector.model, ListingVector.text_hash, ListingVector.vector)


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
    model, hashed, blob = stored
    return blob if model == MODEL and hashed == text_hash(row) else None


async def store(session: AsyncSession, kind: ListKind, rows: list, vectors: list[list[float]]) -> None:
    """Upsert the vectors of these listings (the caller's transaction)."""
    if not rows:
        return
    statement = insert(ListingVector).values([
        {"listing_id": row.id, "kind": kind.value, "model": MODEL, "text_hash": text_hash(row),
         "vector": pack(vector)} for row, vector in zip(rows, vectors, strict=True)])
    await session.execute(statement.on_conflict_do_update(index_elements=["listing_id"], set_={
        name: statement.excluded[name] for name in ("kind", "model", "text_hash", "vector", "updated_at")}))


async def forget(session: AsyncSession, ids: Iterable[uuid.UUID]) -> None:
    """Deleted listings' vectors (an unpublished one keeps its own: republishing costs no encoding)."""
    if ids := list(ids):
        await session.execute(delete(ListingVector).where(ListingVector.listing_id.in_(ids)))


async def vectors_of(sessions, kind: ListKind, entries: list[tuple]) -> dict[uuid.UUID, list[float]]:
    """Each listing's vector: (row, stored) pairs, `stored` the STORED columns read with the row. The
    stale or missing ones are encoded off the event loop, without a connection held, then stored in one
    short transaction of their own."""
    found: dict[uuid.UUID, bytes] = {}
    stale = []
    for row, stored in entries:
        if (blob := current(row, stored)) is not None:
            found[row.id] = blob
        else:
            stale.append(row)
    out = {listing_id: unpack(blob) for listing_id, blob in found.items()}
    if stale:
        encoded = await off_the_loop(encode, [listing_text(row) for row in stale])
        async with sessions() as session, session.begin():
            await store(session, kind, stale, encoded)
        out.update((row.id, vector) for row, vector in zip(stale, encoded, strict=True))
    return out


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
