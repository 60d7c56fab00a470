"""What operators and clients read about the worker catching up: the outbox backlog, a listing's sync."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class BacklogEntry(BaseModel):
    aggregate_type: str = Field(examples=["need"])
    topic: str | None = Field(None, examples=["need.updated"], description="Absent when grouped by type only")
    pending: int = Field(description="Events not processed yet (due, waiting for a retry, or being handled)")
    failing: int = Field(0, description="Of those, events that failed at least once and wait for a retry")
    oldest_age_seconds: float = Field(description="How long the oldest of them has waited")


class Backlog(BaseModel):
    pending: int
    oldest_age_seconds: float
    entries: list[BacklogEntry]


class SyncStatus(BaseModel):
    """Whether the worker has caught up with this listing's last change."""

    listing_id: uuid.UUID
    current: bool = Field(description="Both the index copy and the leads reflect the listing's last change")
    index_current: bool = Field(description="Search shows the listing as it is now (or not at all, if unpublished)")
    leads_current: bool = Field(description="Its leads were recomputed after its last change")
    pending_events: int
    oldest_pending_at: datetime | None = None
    last_processed_at: datetime | None = None
