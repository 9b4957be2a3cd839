"""Write records straight to the pipeline's topics and read consumer-group lag (test tooling)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from producers.app import message_key
from producers.intake import accept_events, accept_traces
from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from schemas.vocabulary import topic_kind


def produce_items(
    settings: Settings, events: list[dict[str, Any]], traces: list[dict[str, Any]], tenant: str = "acme"
) -> None:
    """Validate and encode like the collector does, then produce and wait for every ack."""
    now = int(time.time() * 1000)
    event_records = accept_events(events, None, tenant, now).records if events else []
    trace_records = accept_traces(traces, tenant, now).records if traces else []
    assert len(event_records) == len(events), "invalid test events"
    assert len(trace_records) == len(traces), "invalid test traces"
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    encoder_e, encoder_t = AvroEncoder("event"), AvroEncoder("trace")
    for record in trace_records:
        producer.produce(settings.topic("traces"), encoder_t.encode(record), message_key(record))
        producer.poll(0)
    for record in event_records:
        producer.produce(settings.topic(topic_kind(record["type"])), encoder_e.encode(record), message_key(record))
        producer.poll(0)
    assert producer.flush(60) == 0


def produce_raw(settings: Settings, topic: str, value: bytes, key: bytes) -> None:
    producer = Producer(producer_config(settings))
    producer.produce(topic, value, key)
    assert producer.flush(30) == 0


def group_lag(settings: Settings, group: str, kinds: tuple[str, ...] = ("explicit", "implicit", "traces")) -> int:
    """Messages the group has not committed yet, over all partitions of the pipeline's topics."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = []
        for kind in kinds:
            topic = settings.topic(kind)
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions += [TopicPartition(topic, p) for p in metadata.partitions]
        lag = 0
        for tp in consumer.committed(partitions, timeout=10):
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()
