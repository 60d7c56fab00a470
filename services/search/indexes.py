"""The two public indexes, their settings, and zero-downtime rebuilds (build aside, then swap)."""

import hashlib
import hmac

from schemas.enums import ListKind
from services.matching.semantic import DIMENSIONS, EMBEDDER
from services.search.client import MeiliClient, SearchError

# Searchable text is the normalised (simplified) form; the original is kept for display.
SEARCHABLE = ["title_n", "keywords_n", "summary_n", "problem_n", "description_n"]
COMMON_FILTERABLE = [
    "id", "field", "field_top", "field_path", "region", "region_scope", "trl", "stage", "organisation_id", "owner_org",
    "updated_at", "published_at", "modes",
]
SETTINGS: dict[ListKind, dict] = {
    ListKind.achievements: {
        "searchableAttributes": [*SEARCHABLE, "ip_numbers"],  # patent numbers in their written variants
        "filterableAttributes": [*COMMON_FILTERABLE, "price_min", "price_max", "price_negotiable", "ip_types"],
        "sortableAttributes": ["updated_at", "published_at", "price_min", "trl"],
        "displayedAttributes": [
            "id", "title", "summary", "keywords", "field", "secondary_fields", "trl", "stage", "modes",
            "price_negotiable", "price_min", "price_max", "region", "organisation_id", "organisation_name",
            "ip_types", "updated_at", "published_at", "problem_n",
        ],
    },
    ListKind.needs: {
        "searchableAttributes": SEARCHABLE,
        "filterableAttributes": [
            *COMMON_FILTERABLE, "budget_min", "budget_max", "budget_negotiable", "confidential",
            "challenge", "deadline",
        ],
        "sortableAttributes": ["updated_at", "published_at", "budget_max", "deadline"],
        "displayedAttributes": [
            "id", "title", "summary", "keywords", "field", "trl", "modes", "budget_negotiable", "budget_min",
            "budget_max", "deadline", "deadline_date", "region", "organisation_id", "organisation_name", "confidential",
            "challenge", "updated_at", "published_at",
        ],
    },
}
for _settings in SETTINGS.values():
    _settings["displayedAttributes"] += ["title_n", "summary_n", "keywords_n"]  # Meilisearch marks terms here
    # Matching leaves a listing's own organisation out of shared term answers (services.matching.engine);
    # the API never shows it (hits are read into API models field by field).
    _settings["displayedAttributes"].append("owner_org")
    _settings.update({
        "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
        "typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4, "twoTypos": 8}},
        "pagination": {"maxTotalHits": 5000},
        # No synonyms: thousands of them cost ~4 ms on every query; search and matching expand
        # terms themselves from the thesaurus (services.text.Thesaurus).
        "synonyms": {},
        "faceting": {"maxValuesPerFacet": 200},
        # Vectors come with each document (`_vectors`), computed by the worker (services.matching.semantic).
        "embedders": {EMBEDDER: {"source": "userProvided", "dimensions": DIMENSIONS}},
    })


# A well-formed id: should a crash leave the probe behind, readers parse it and matching skips it
# (leads are only stored for listings published in PostgreSQL).
WARM_UP_ID = "00000000-0000-0000-0000-000000000000"


class SearchIndexes:
    """Names and settings of the indexes under one prefix (tests use their own prefix)."""

    def __init__(self, client: MeiliClient, prefix: str, owner_secret: str):
        self.client = client
        self.prefix = prefix
        self._owner_secret = owner_secret.encode()

    def owner_key(self, organisation_id) -> str:
        """What the index stores as a listing's owner (`owner_org`): a keyed hash, so the index never
        holds a confidential firm's id, while matching can still leave out the listing's own side."""
        return hmac.new(self._owner_secret, str(organisation_id).encode(), hashlib.sha256).hexdigest()[:32]

    def uid(self, kind: ListKind, suffix: str = "") -> str:
        return f"{self.prefix}_{kind.value}{suffix}"

    async def ensure(self, suffix: str = "", warm: bool = True) -> None:
        """Create both indexes if missing and apply the settings; waits until Meilisearch has them. A
        rebuild's indexes are not warmed (`warm=False`): its first batch of documents pays that once."""
        for kind, settings in SETTINGS.items():
            uid = self.uid(kind, suffix)
            created = True
            try:
                await self.client.wait_task(await self.client.create_index(uid, "id"))
            except SearchError as exc:
                if exc.code != "index_already_exists":
                    raise
                created = False
            await self.client.wait_task(await self.client.update_settings(uid, settings))
            if created and warm:
                await self._warm(uid)

    async def _warm(self, uid: str) -> None:
        """The first writes to a new index take 1–2 s each in Meilisearch 1.21 (measured: 1.1 s, 1.9 s,
        then 0.17 s); pay them here, at creation, rather than on the first listings published."""
        probe = {"id": WARM_UP_ID, "title_n": "索引预热", "keywords_n": ["预热"], "_vectors": {EMBEDDER: None}}
        for _ in range(2):
            await self.client.wait_task(await self.client.add_documents(uid, [probe], primary_key="id"))
        await self.client.wait_task(await self.client.delete_documents(uid, [WARM_UP_ID]))

    async def upsert(self, kind: ListKind, documents: list[dict], suffix: str = "") -> int:
        task = await self.client.add_documents(self.uid(kind, suffix), documents, primary_key="id")
        return task["taskUid"]

    async def swap_in(self, suffix: str) -> None:
        """Swap the freshly built `<index><suffix>` indexes in, then drop the old ones."""
        pairs = [[self.uid(kind), self.uid(kind, suffix)] for kind in ListKind]
        await self.client.wait_task((await self.client.swap_indexes(pairs))["taskUid"])
        for kind in ListKind:
            await self.client.wait_task((await self.client.delete_index(self.uid(kind, suffix)))["taskUid"])
