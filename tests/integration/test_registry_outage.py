"""A schema registry that fails (5xx) or is down is backpressure: the worker waits, never crashes
and never dead-letters the messages it could not look up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from confluent_kafka import Consumer, TopicPartition

from consumers.metrics import RETRIES
from feedback.services import make_worker
from producers.app import message_key
from producers.intake import accept_events
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from schemas.registry import SchemaRegistry
from schemas.serde import AvroEncoder
from tests.helpers import event, free_port, new_id, wait_for
from tests.integration.fake_registry import FakeRegistry, running_registry
from tests.integration.kafka_tools import produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _settings(kafka_settings: Settings, url: str) -> Settings:
    settings = kafka_settings.model_copy(
        update={
            "schema_registry_url": url,
            "topic_prefix": f"registry-down-{new_id()}.",
            "clickhouse_database": f"registry_down_{new_id()}",
        }
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    return settings


def _produce_framed(settings: Settings, url: str) -> str:
    """One event in the Confluent wire format (its schema id registered at ``url``); its id."""
    item = event("thumbs")
    record = accept_events([item], None, "acme", int(time.time() * 1000)).records[0]
    topic = settings.topic("explicit")
    encoder = AvroEncoder("event", registry=SchemaRegistry(url), topic=topic)
    produce_raw(settings, topic, encoder.encode(record), message_key(record))
    return str(item["event_id"])


@contextmanager
def _worker(settings: Settings) -> Iterator[threading.Thread]:
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    thread = threading.Thread(target=worker.run, name="registry-outage-worker", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(30)


def _stored(settings: Settings, event_id: str) -> bool:
    client = settings.clickhouse().connect(database=settings.clickhouse_database)
    rows = client.query("SELECT count() FROM events WHERE event_id = {e:String}", parameters={"e": event_id})
    return rows.result_rows == [(1,)]


def _dlq_size(settings: Settings) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": new_id("peek-")})
    try:
        topic = settings.topic("dlq")
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def test_a_registry_answering_5xx_holds_the_batch_back_until_it_recovers(kafka_settings: Settings) -> None:
    with running_registry() as (url, registry):
        settings = _settings(kafka_settings, url)
        event_id = _produce_framed(settings, url)
        registry.fail_with = 503
        with _worker(settings) as thread:
            wait_for(lambda: registry.failed_lookups >= 8, 60, what="the worker retrying the lookup")
            assert thread.is_alive()
            assert not _stored(settings, event_id)
            registry.fail_with = None
            wait_for(lambda: _stored(settings, event_id), 60, what="the event stored once the registry answers")
            assert thread.is_alive()
        assert _dlq_size(settings) == 0


def test_a_registry_that_is_down_holds_the_batch_back_until_it_is_up(kafka_settings: Settings) -> None:
    registry, port = FakeRegistry(), free_port()
    url = f"http://127.0.0.1:{port}"
    with running_registry(registry, port):
        settings = _settings(kafka_settings, url)
        event_id = _produce_framed(settings, url)
    # the registry is gone: connections are refused
    retried = _retries()
    with _worker(settings) as thread:
        wait_for(lambda: _retries() >= retried + 2, 60, what="the worker holding the batch back")
        assert thread.is_alive()
        with running_registry(registry, port):
            wait_for(lambda: _stored(settings, event_id), 90, what="the event stored once the registry is up")
        assert thread.is_alive()
    assert _dlq_size(settings) == 0


def _retries() -> float:
    return float(RETRIES._value.get())
