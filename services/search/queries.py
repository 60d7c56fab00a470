"""Full-text search over the public indexes, with filters built only from validated values."""

from dataclasses import dataclass
from datetime import date

from schemas.enums import ListKind, Stage, TransferMode
from schemas.search import SearchHit, SearchPage
from services import kinds
from services.errors import Invalid
from services.listings import ListingCriteria
from services.search.documents import day_date, day_stamp
from services.search.highlight import EM, END, highlight, marked_terms, snippet
from services.search.indexes import SearchIndexes
from services.taxonomy import taxonomy
from services.text import default_thesaurus

FACETS = {
    ListKind.achievements: ["field_top", "field", "region", "stage", "trl", "modes"],
    ListKind.needs: ["field_top", "field", "region", "trl", "modes", "challenge"],
}
HIGHLIGHTED = ["title_n", "summary_n", "keywords_n"]
# What a hit shows, and the normalised text its highlights are read from: the long texts (description_n,
# field paths, vectors) stay in the index, so Meilisearch writes and we parse a fraction of each document.
HIT_FIELDS = frozenset(SearchHit.model_fields)
RETRIEVED = sorted({*HIT_FIELDS, "deadline_date", *HIGHLIGHTED} - {"highlight", "score", "deadline"})
SORTS = {"updated_at", "published_at", "price_min", "trl", "budget_max", "deadline"}


def quote(value: str) -> str:
    """A string literal for a Meilisearch filter: a value can never close the quotes and add a clause."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(kw_only=True)
class SearchParams(ListingCriteria):
    q: str = ""
    stage: Stage | None = None
    challenge: bool | None = None  # needs only: 揭榜挂帅 or not
    deadline_after: date | None = None  # needs only: still open on this day (no deadline counts as open)
    sort: str | None = None
    limit: int = 20
    offset: int = 0


def build_filter(kind: ListKind, params: SearchParams) -> list[str]:
    tax = taxonomy()
    clauses = []
    if params.field:
        clauses.append(f"field_path = {quote(tax.check_field(params.field, 'query.field'))}")
    if params.region:
        clauses.append(f"region = {quote(tax.check_region(params.region, 'query.region'))}")
    if params.trl_min is not None:
        clauses.append(f"trl >= {int(params.trl_min)}")
    if params.trl_max is not None:
        clauses.append(f"trl <= {int(params.trl_max)}")
    if params.mode:
        clauses.append(f"modes = {quote(TransferMode(params.mode).value)}")
    if params.stage and kind == ListKind.achievements:
        clauses.append(f"stage = {quote(Stage(params.stage).value)}")
    if kind == ListKind.needs and params.challenge is not None:
        clauses.append(f"challenge = {'true' if params.challenge else 'false'}")
    if kind == ListKind.needs and params.deadline_after is not None:
        clauses.append(f"(deadline >= {int(day_stamp(params.deadline_after))} OR deadline IS NULL)")
    prefix = kinds.of(kind).amount
    if params.amount_min is not None:
        clauses.append(f"({prefix}_max >= {params.amount_min:f} OR {prefix}_max IS NULL)")
    if params.amount_max is not None:
        clauses.append(f"({prefix}_min <= {params.amount_max:f} OR {prefix}_min IS NULL)")
    return clauses


def _sort(kind: ListKind, sort: str | None) -> list[str] | None:
    if not sort:
        return None
    name = sort.lstrip("-")
    if name not in SORTS or (name in ("price_min",) and kind != ListKind.achievements) or (
            name in ("budget_max", "deadline") and kind != ListKind.needs):
        raise Invalid(f"cannot sort {kind.value} by {name}", code="search.invalid_sort", field="query.sort")
    return [f"{name}:{'desc' if sort.startswith('-') else 'asc'}"]


async def search(indexes: SearchIndexes, kind: ListKind, params: SearchParams) -> SearchPage:
    """One query, or, when the query holds thesaurus terms (锂电, UAV), a federated search over the
    query and its variants with equivalents (锂离子电池, 无人机), merged by Meilisearch."""
    variants = default_thesaurus().query_variants(params.q) if params.q.strip() else [""]
    body = {
        "filter": build_filter(kind, params),
        "attributesToRetrieve": RETRIEVED,
        "attributesToHighlight": HIGHLIGHTED,
        "highlightPreTag": EM,
        "highlightPostTag": END,
        "attributesToCrop": ["summary_n"],  # only the marked terms are read from these
        "cropLength": 40,
        "showRankingScore": True,
    }
    if (sort := _sort(kind, params.sort)) is not None:
        body["sort"] = sort
    uid = indexes.uid(kind)
    if len(variants) == 1:
        result = await indexes.client.search(
            uid, {**body, "q": variants[0], "facets": FACETS[kind], "limit": params.limit, "offset": params.offset})
    else:
        queries = [{**body, "indexUid": uid, "q": variant, "federationOptions": {"weight": 1.0 if i == 0 else 0.9}}
                   for i, variant in enumerate(variants)]
        result = await indexes.client.multi_search(queries, federation={
            "limit": params.limit, "offset": params.offset, "facetsByIndex": {uid: FACETS[kind]},
            "mergeFacets": {}})
    hits = [_hit(hit) for hit in result["hits"]]
    return SearchPage(query=params.q, total=result.get("estimatedTotalHits", len(hits)), offset=params.offset,
                      limit=params.limit, hits=hits, facets=result.get("facetDistribution", {}),
                      processing_ms=result.get("processingTimeMs", 0))


def _hit(hit: dict) -> SearchHit:
    """A hit as the API shows it: highlights over the original title and summary (as written, in
    either script), from the terms Meilisearch marked in the normalised text."""
    formatted = hit.get("_formatted", {})
    terms = set()
    for name in HIGHLIGHTED:
        value = formatted.get(name)
        for text in value if isinstance(value, list) else [value or ""]:
            terms |= marked_terms(text)
    marked = {"title": highlight(hit.get("title") or "", terms), "summary": snippet(hit.get("summary") or "", terms)}
    fields = {k: v for k, v in hit.items() if k in HIT_FIELDS}
    fields["deadline"] = day_date(hit.get("deadline_date"))  # the index's `deadline` is a timestamp for filters
    return SearchHit(**fields, highlight={k: v for k, v in marked.items() if v}, score=hit.get("_rankingScore"))
