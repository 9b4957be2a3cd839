"""A replay into the live database of a ClickHouse server goes through the live group.

The write locks of ``consumers.write_locks`` serialise the writers of one process, which is
every writer with the embedded engine. With a ClickHouse server the live workers may be other
processes on other hosts; the one thing they all agree on is Kafka's group assignment (one
writer per partition). So while the live group has members, a replay into the live database
writes nothing itself: it copies the slice back into its topic, same key and partition, and the
live workers store each message once (the same dedupe a resent batch meets). A replay into a
database of its own, or with no live worker running, writes directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from consumers.batch import position
from operations.positions import consume_range
from runtime.kafka import admin_config, consumer_config, producer_config
from runtime.settings import Settings

log = structlog.get_logger(__name__)

# Header of a forwarded copy: where the original is (partition:offset of the same topic).
REPLAYED_FROM = "replay.from"


def live_group_active(settings: Settings, timeout_s: float = 10.0) -> bool:
    """Has the live workers' group members now? (Unknown counts as yes: forwarding is always safe.)"""
    admin = AdminClient(admin_config(settings))
    try:
        group = settings.worker_group
        described = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result(timeout_s)
    except (KafkaException, TimeoutError) as exc:
        log.warning("replay.group_unknown", group=settings.worker_group, error=str(exc))
        return True
    return bool(described.members)


def forward(
    settings: Settings,
    topic: str,
    start: dict[int, int],
    end: dict[int, int],
    on_progress: Callable[[int], None] = lambda _n: None,
    batch_size: int = 5000,
) -> int:
    """Copy a slice of ``topic`` back into it for the live group to store; returns how many."""
    consumer = Consumer(consumer_config(settings, f"feedback-replay-{uuid.uuid4().hex[:12]}"))
    producer = Producer(producer_config(settings))
    copied = 0
    try:
        for messages in consume_range(consumer, topic, start, end, batch_size):
            for message in messages:
                _, partition, offset = position(message)
                _produce(producer, topic, message.value(), message.key(), partition, f"{partition}:{offset}")
            copied += len(messages)
            on_progress(len(messages))
        left = producer.flush(60)
        if left:
            raise RuntimeError(f"{left} replayed message(s) not acknowledged by Kafka")
        return copied
    finally:
        consumer.close()


def _produce(producer: Producer, topic: str, value: bytes | None, key: bytes | None, partition: int, ref: str) -> None:
    while True:
        try:
            producer.produce(topic, value, key, partition=partition, headers=[(REPLAYED_FROM, ref.encode())])
            producer.poll(0)
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(1.0)
