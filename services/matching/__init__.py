"""The matching engine: needs meet the achievements that can solve them, and the other way round.

terms.py picks the query terms of a listing; engine.py asks Meilisearch and combines the ranking
scores; scoring.py adds the structured fit (field, maturity, price, modes, region, freshness);
refresh.py keeps the persisted leads fresh; batch.py recomputes everything.
"""

from services.matching.semantic import MODEL

ENGINE_VERSION = f"match-2026.12.3+{MODEL}"  # the encoder is part of it: new vectors rank differently
