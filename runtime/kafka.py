"""Kafka client configuration and topic creation, shared by the collector and the workers."""

from __future__ import annotations

from typing import Any

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from runtime.errors import KafkaUnavailable
from runtime.settings import Settings
from schemas.vocabulary import TOPIC_KINDS

log = structlog.get_logger(__name__)


class LibrdkafkaLog:
    """librdkafka's own log lines, through structlog (confluent-kafka calls ``log(level, fmt, *args)``)."""

    def __init__(self, client: str) -> None:
        self._log = structlog.get_logger("librdkafka").bind(client=client)

    def log(self, level: int, message: str, *args: object) -> None:
        self._log.log(level, "librdkafka", message=message % args if args else message)


def message_headroom(max_message_bytes: int) -> int:
    """What a message may need beyond its key and value: record and batch framing, headers (a
    dead letter's reason and source), and lz4's worst case on incompressible data (n/255 + 16)."""
    return 4096 + max_message_bytes // 128


def max_item_bytes(max_message_bytes: int) -> int:
    """The largest key + value of one item, so that its message fits every limit set from
    ``FEEDBACK_KAFKA_MAX_MESSAGE_BYTES`` (broker, topic, producer) even compressed and dead-lettered."""
    return max_message_bytes - message_headroom(max_message_bytes)


def connection_config(settings: Settings) -> dict[str, Any]:
    """What every client needs to reach the cluster: the bootstrap servers, TLS and SASL
    (docs/contract.md §2), then FEEDBACK_KAFKA_CLIENT_CONFIG's extra properties."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol.lower(),
    }
    if settings.kafka_sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username is not None:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    files = {
        "ssl.ca.location": settings.kafka_ssl_ca_location,
        "ssl.certificate.location": settings.kafka_ssl_certificate_location,
        "ssl.key.location": settings.kafka_ssl_key_location,
    }
    config.update({name: str(path) for name, path in files.items() if path is not None})
    if settings.kafka_ssl_key_password is not None:
        config["ssl.key.password"] = settings.kafka_ssl_key_password.get_secret_value()
    config.update({name: value.get_secret_value() for name, value in settings.kafka_client_config.items()})
    return config


def admin_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return {**connection_config(settings), "logger": LibrdkafkaLog("admin"), **overrides}


def producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all: a delivery report means every in-sync replica has the message."""
    limit = settings.kafka_max_message_bytes
    config: dict[str, Any] = {
        **connection_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "compression.type": "lz4",
        "message.timeout.ms": int(settings.produce_timeout_s * 1000),
        "queue.buffering.max.messages": 500_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        # One limit for the whole path: a batch (compressed) never outgrows the topic's limit.
        "message.max.bytes": limit,
        "batch.size": max_item_bytes(limit),
        "socket.connection.setup.timeout.ms": 3000,
        "logger": LibrdkafkaLog("producer"),
    }
    config.update(overrides)
    return config


def consumer_config(settings: Settings, group: str, **overrides: Any) -> dict[str, Any]:
    """Manual commits after ClickHouse has the rows; range assignment keeps a conversation's
    traces and signals (same key, same partition number) on one worker."""
    config: dict[str, Any] = {
        **connection_config(settings),
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "range",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "max.poll.interval.ms": 300_000,
        "fetch.wait.max.ms": 50,
        "fetch.min.bytes": 1,
        # Prefetch enough for a few batches ahead, not librdkafka's 64 MB per consumer.
        "queued.max.messages.kbytes": 16_384,
        "logger": LibrdkafkaLog("consumer"),
    }
    config.update(overrides)
    return config


def replication_of(settings: Settings, brokers: int) -> int:
    """FEEDBACK_TOPIC_REPLICATION, else min(3, brokers): a laptop's one broker and a cluster alike."""
    return settings.topic_replication or min(3, brokers)


def topic_config(settings: Settings, replication: int) -> dict[str, str]:
    """The config of the topics the pipeline creates: the message size limit; how long Kafka keeps
    messages (FEEDBACK_TOPIC_RETENTION_HOURS: personal data, and what a replay can reach); and with
    3 replicas, a write (acks=all) needs 2 of them: one broker may be down, and a 202 still means
    the event is on two brokers."""
    config = {
        "max.message.bytes": str(settings.kafka_max_message_bytes),
        "retention.ms": str(int(settings.topic_retention_hours * 3_600_000)),
    }
    if replication >= 3:
        config["min.insync.replicas"] = "2"
    return config


def ensure_topics(settings: Settings, kinds: tuple[str, ...] = TOPIC_KINDS, timeout_s: float = 15.0) -> None:
    """Create the pipeline's topics if missing (all with the same partition count, so that one
    conversation's key lands on the same partition number in every topic)."""
    admin = AdminClient(admin_config(settings))
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailable(f"cannot list topics at {settings.kafka_bootstrap}: {exc}") from exc
    replication = replication_of(settings, len(metadata.brokers))
    wanted = [settings.topic(kind) for kind in kinds]
    for name in wanted:
        topic = metadata.topics.get(name)
        if topic is not None and topic.partitions:
            replicas = min(len(p.replicas) for p in topic.partitions.values())
            if replicas < replication:
                log.warning("kafka.topic_under_replicated", topic=name, replicas=replicas, wanted=replication)
    config = topic_config(settings, replication)
    missing = [
        NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=replication, config=config)
        for name in wanted
        if name not in metadata.topics
    ]
    if not missing:
        return  # a broker may be down meanwhile: the topics need no more of them now
    if replication > len(metadata.brokers):
        raise KafkaUnavailable(
            f"FEEDBACK_TOPIC_REPLICATION is {replication} but {settings.kafka_bootstrap} has "
            f"{len(metadata.brokers)} broker(s) up: cannot create {', '.join(t.topic for t in missing)}"
        )
    for name, future in admin.create_topics(missing, request_timeout=timeout_s).items():
        try:
            future.result()
            log.info("kafka.topic_created", topic=name, partitions=settings.topic_partitions, replication=replication)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise KafkaUnavailable(f"cannot create topic {name}: {exc}") from exc
