"""One typed settings object, read from the environment once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.clickhouse import ClickHouseTarget
from runtime.local_kafka import LocalBroker
from runtime.networks import Network, parse_networks
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
    keys_reload_s: float = 1.0  # how often the collector checks the keys file for changes (0: never)
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
    # The largest Kafka message, set alike on the local broker (message.max.bytes), the topics
    # created here (max.message.bytes) and the producers (message.max.bytes, batch.size); the
    # collector rejects an item whose message would not fit (runtime.kafka.max_item_bytes).
    kafka_max_message_bytes: int = Field(default=1_048_576, ge=65_536)

    # Collector behaviour.
    produce_timeout_s: float = 5.0
    retry_after_s: int = 5
    max_body_bytes: int = 1024 * 1024
    # OTLP exporters cannot split a batch that a 413 refused, and captured messages make spans big.
    otlp_max_body_bytes: int = 16 * 1024 * 1024
    max_items: int = 1000
    # A request body must arrive whole within this time (else 408): slow or stalled uploads
    # must not hold a connection and its buffers for ever.
    http_body_timeout_s: float = 15.0
    # Connections (and requests) served at once; past it uvicorn answers 503 at once.
    http_max_connections: int = 1000
    # `feedback collector` processes sharing the port (SO_REUSEPORT); None: one per core (1 with
    # an embedded ClickHouse, which one process only can open). Limits and metrics: contract §2.
    collector_processes: int | None = Field(default=None, ge=1)
    topic_partitions: int = 6
    # Token buckets, in items per second and items of burst (0 turns a limit off).
    rate_limit_key_per_s: float = 20_000
    rate_limit_key_burst: float = 40_000
    # One person: a few signals a second, a burst of a few hundred (a long chat, a retry queue).
    rate_limit_user_per_s: float = 5
    rate_limit_user_burst: float = 300
    # One client address, public keys only (browsers): several people behind one NAT, not a script
    # that invents a user_id per event. Secret keys (backends relaying many users) are limited per key.
    rate_limit_address_per_s: float = 50
    rate_limit_address_burst: float = 1_000
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks, e.g.
    # 10.0.0.0/8); empty: nobody's, the TCP peer is the client.
    trusted_proxies: str = ""

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
    # Stop rather than dead-letter a topic (consumers.dlq_limit): more than this share of the last
    # dlq_window messages going to the DLQ, once dlq_min_messages were seen, stops the worker.
    dlq_max_share: float = Field(default=0.5, gt=0)
    dlq_window: int = Field(default=1000, ge=1)
    dlq_min_messages: int = Field(default=100, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a clear error at start, naming the entry
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

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
            max_message_bytes=self.kafka_max_message_bytes,
        )
