"""One typed settings object, read from the environment once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.clickhouse import ClickHouseTarget
from runtime.local_kafka import LocalBroker
from runtime.readonly_query import QueryLimits
from schemas.registry import SchemaRegistry

TOPIC_KINDS = ("explicit", "implicit", "traces", "dlq")
WORKER_TOPIC_KINDS = ("explicit", "implicit", "traces")


class Settings(BaseSettings):
    """Everything configurable, with the contract's defaults (docs/contract.md §2)."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: SecretStr = SecretStr("chdb://./.data/clickhouse")
    clickhouse_database: str = "feedback"
    keys_file: Path = Path("./.data/keys.json")
    http_addr: str = "127.0.0.1:8080"
    topic_prefix: str = "feedback."
    schema_registry_url: str | None = None
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    log_level: str = "info"

    # Local broker (feedback kafka start): where it keeps its data and jars.
    kafka_home: Path = Path.home() / ".cache" / "feedback-pipeline" / "kafka"
    kafka_data_dir: Path = Path("./.data/kafka")
    kafka_version: str = "4.1.1"
    kafka_heap: str = "768m"
    kafka_local_port: int = 9092  # the controller listens on the next port

    # Collector behaviour.
    produce_timeout_s: float = 5.0
    retry_after_s: int = 5
    max_body_bytes: int = 1024 * 1024
    max_items: int = 1000
    topic_partitions: int = 6
    # Token buckets, in items per second (0 turns a limit off).
    rate_limit_key_per_s: float = 20_000
    rate_limit_key_burst: float = 40_000
    rate_limit_user_per_s: float = 100
    rate_limit_user_burst: float = 1_000

    # People's queries (POST /v1/query, feedback query): what one query may cost.
    query_timeout_s: float = Field(default=30.0, gt=0)
    query_max_memory_bytes: int = Field(default=2 * 1024**3, gt=0)
    query_max_rows: int = Field(default=100_000, gt=0)

    # Observability.
    otel_exporter: str = Field(default="none", pattern="^(none|console|otlp)$")
    metrics_addr: str | None = None  # e.g. 0.0.0.0:9100: /metrics of a standalone `feedback worker`

    # Worker behaviour.
    worker_group: str = "feedback-workers"
    batch_max_messages: int = 20_000
    batch_max_wait_s: float = 0.4

    # The feedback loop (quality/, docs/contract.md §2): derived signals, alerts, the score.
    quality_interval_s: float = Field(default=300.0, ge=0)  # derive + alerts inside up/worker; 0 = off
    derive_lookback_s: float = Field(default=24 * 3600.0, gt=0)
    derive_rephrase_within_s: float = Field(default=120.0, gt=0)
    derive_rephrase_similarity: float = Field(default=0.5, gt=0, le=1)
    derive_abandon_after_s: float = Field(default=1800.0, gt=0)
    alert_window_s: float = Field(default=3600.0, gt=0)
    alert_baseline_s: float = Field(default=24 * 3600.0, gt=0)
    alert_min_samples: int = Field(default=100, ge=1)  # responses per side (down_rate: thumbed ones)
    alert_fdr: float = Field(default=0.0001, gt=0, lt=1)  # Benjamini-Hochberg level per check
    alert_min_relative_change: float = Field(default=0.25, ge=0)
    alert_webhook_url: SecretStr | None = None
    alert_webhook_attempts: int = Field(default=4, ge=1)
    alert_webhook_backoff_s: float = Field(default=1.0, ge=0)
    score_min_labelled: int = Field(default=200, ge=10)

    @property
    def http_host(self) -> str:
        return self.http_addr.rsplit(":", 1)[0]

    @property
    def http_port(self) -> int:
        return int(self.http_addr.rsplit(":", 1)[1])

    def topic(self, kind: str) -> str:
        """Full topic name for one of the contract's topic kinds."""
        if kind not in TOPIC_KINDS:
            raise ValueError(f"unknown topic kind {kind!r}; expected one of {TOPIC_KINDS}")
        return f"{self.topic_prefix}{kind}"

    def topics_named(self, spec: str) -> list[str]:
        """``explicit,traces`` (kinds) or full topic names, comma-separated, into topic names."""
        return [self.topic(name) if name in TOPIC_KINDS else name for name in spec.split(",") if name.strip()]

    @property
    def uses_local_kafka(self) -> bool:
        """True unless FEEDBACK_KAFKA_BOOTSTRAP points at a broker of the user's own."""
        return "kafka_bootstrap" not in self.model_fields_set

    def registry(self) -> SchemaRegistry | None:
        """The schema registry client, when FEEDBACK_SCHEMA_REGISTRY_URL is set."""
        return SchemaRegistry(self.schema_registry_url) if self.schema_registry_url else None

    def query_limits(self) -> QueryLimits:
        return QueryLimits(self.query_timeout_s, self.query_max_memory_bytes, self.query_max_rows)

    def clickhouse(self) -> ClickHouseTarget:
        return ClickHouseTarget(self.clickhouse_url.get_secret_value())

    def local_broker(self) -> LocalBroker:
        return LocalBroker(
            home=self.kafka_home,
            data_dir=self.kafka_data_dir.resolve(),
            version=self.kafka_version,
            port=self.kafka_local_port,
            controller_port=self.kafka_local_port + 1,
            heap=self.kafka_heap,
        )
