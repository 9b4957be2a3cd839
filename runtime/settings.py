"""One typed settings object, read from the environment once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.clickhouse import ClickHouseTarget
from runtime.cluster_ddl import check_cluster_name
from runtime.errors import ConfigError
from runtime.kafka_security import SaslMechanism, SecurityProtocol, check_client_config, check_sasl
from runtime.local_cluster import LocalCluster
from runtime.local_kafka import LocalBroker
from runtime.networks import Network, parse_networks
from runtime.readonly_query import QueryLimits
from schemas.registry import SchemaRegistry
from schemas.vocabulary import SUBJECT_OF_TOPIC_KIND, TOPIC_KINDS


class Settings(BaseSettings):
    """Everything configurable, with the contract's defaults (docs/contract.md §2)."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    clickhouse_url: SecretStr = SecretStr("chdb://./.data/clickhouse")
    clickhouse_database: str = "feedback"
    # A cluster of the servers' remote_servers: migrations create replicated tables ON CLUSTER and
    # Distributed tables with the contract's names (runtime/cluster_ddl.py).
    clickhouse_cluster: str | None = None
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

    # How every Kafka client (producer, consumer, admin) reaches a secured cluster
    # (runtime.kafka.connection_config); anything else librdkafka knows goes through
    # kafka_client_config, a JSON object whose values are kept secret like passwords.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = None
    kafka_ssl_certificate_location: Path | None = None
    kafka_ssl_key_location: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_client_config: dict[str, SecretStr] = Field(default_factory=dict)

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
    topic_partitions: int = Field(default=6, ge=1)
    # Replication factor of the topics the pipeline creates; unset: min(3, brokers in the cluster).
    # With 3 or more, the topics get min.insync.replicas=2 (runtime.kafka.ensure_topics).
    topic_replication: int | None = Field(default=None, ge=1)
    # Privacy (docs/contract.md §2): how long personal data is kept, in ClickHouse (a TTL on every
    # table of runtime/personal_data.py, 0 = for ever) and in the topics the pipeline creates
    # (their retention.ms; a topic that exists already keeps its own).
    retention_days: int = Field(default=400, ge=0)
    topic_retention_hours: float = Field(default=168.0, gt=0)
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
    # Redaction of personal data at intake (docs/contract.md, "Redaction"): each tenant's policy
    # (mask, hash or off; which kinds) from this file, JSON, TOML or YAML; none: mask for everyone.
    redaction_policy_file: Path | None = None
    # The HMAC key of hash mode, the same on every collector so a value hashes alike everywhere.
    redaction_hash_key: SecretStr | None = None

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

    @field_validator("clickhouse_cluster")
    @classmethod
    def _cluster(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return check_cluster_name(value.strip())
        except ConfigError as exc:  # pydantic reports ValueErrors, naming the field
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _cluster_of_servers(self) -> Settings:
        if self.clickhouse_cluster is not None and self.clickhouse().embedded:
            raise ValueError(
                "FEEDBACK_CLICKHOUSE_CLUSTER: a cluster is made of ClickHouse servers; set "
                "FEEDBACK_CLICKHOUSE_URL=http(s)://user:pass@host:port (the embedded engine is one process)"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a clear error at start, naming the entry
        return value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # librdkafka's own spelling is lower case

    @field_validator("kafka_client_config", mode="before")
    @classmethod
    def _client_config_values(cls, value: object) -> object:
        # JSON's true and 5000 mean librdkafka's "true" and "5000"
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else v if isinstance(v, (str, SecretStr)) else str(v)
                    for k, v in value.items()}  # fmt: skip
        return value

    @field_validator("kafka_client_config")
    @classmethod
    def _client_config(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        check_client_config(value)
        return value

    @model_validator(mode="after")
    def _sasl(self) -> Settings:
        check_sasl(
            self.kafka_security_protocol, self.kafka_sasl_mechanism, self.kafka_sasl_username, self.kafka_sasl_password
        )
        return self

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

    def subject_of(self, topic: str) -> str:
        """The Avro subject a worker topic carries (``event`` or ``trace``)."""
        for kind, subject in SUBJECT_OF_TOPIC_KIND.items():
            if topic == self.topic(kind):
                return subject
        # a topic named by hand (a replay's --topic): only the traces topic carries traces
        return "event"

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
        return ClickHouseTarget(self.clickhouse_url.get_secret_value(), self.clickhouse_cluster)

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

    def local_cluster(self, brokers: int = 3) -> LocalCluster:
        """``feedback kafka start --brokers N``: brokers on kafka_local_port and the next N-1 ports,
        their controllers on the N ports after those."""
        return LocalCluster(
            home=self.kafka_home,
            data_dir=self.kafka_data_dir.resolve(),
            brokers=brokers,
            version=self.kafka_version,
            port=self.kafka_local_port,
            heap=self.kafka_heap,
            max_message_bytes=self.kafka_max_message_bytes,
        )
