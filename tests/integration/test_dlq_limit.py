"""A worker meeting mostly poison stops with one clear error instead of emptying the topic into
the DLQ, and commits nothing past what it stored."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from consumers.dlq_limit import DlqLimitExceeded
from feedback.services import make_worker
from producers.app import message_key
from producers.intake import accept_events
from runtime.kafka import ensure_topics, producer_config
from runtime.migrations import migrate
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from tests.helpers import event, new_id, wait_for
from tests.integration.kafka_tools import group_lag
from tests.integration.test_registry_outage import _dlq_size

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def test_the_worker_stops_when_most_messages_would_be_dead_lettered(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(
        update={
            "topic_prefix": f"dlqlimit-{new_id()}.",
            "clickhouse_database": f"dlqlimit_{new_id()}",
            "worker_group": f"dlqlimit-{new_id()}",
            "dlq_max_share": 0.5,
            "dlq_window": 40,
            "dlq_min_messages": 10,
        }
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    topic = settings.topic("implicit")
    items = [event("copy") for _ in range(5)]
    records = accept_events(items, None, "acme", int(time.time() * 1000)).records
    producer = Producer(producer_config(settings))
    encoder = AvroEncoder("event")
    for record in records:
        producer.produce(topic, encoder.encode(record), b"k", partition=0)
    for index in range(60):  # a bad deploy: nothing readable any more
        producer.produce(topic, b"garbage %d" % index, b"k", partition=0)
    assert producer.flush(30) == 0

    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="dlq-limit-worker", daemon=True)
    thread.start()
    try:
        wait_for(lambda: not thread.is_alive(), 60, what="the worker to stop by itself")
    finally:
        stop.set()
        thread.join(30)
    assert len(failure) == 1
    assert isinstance(failure[0], DlqLimitExceeded)
    assert "FEEDBACK_DLQ_MAX_SHARE=0.5" in str(failure[0])
    letters = _dlq_size(settings)
    assert letters < 60  # it did not empty the topic into the DLQ
    # nothing committed past what was handled: every garbage message not dead-lettered is still ahead
    assert group_lag(settings, settings.worker_group, ("implicit",)) >= 60 - letters
    assert message_key(records[0])  # the records were valid all along
