"""Old and new writers in one topic; the optional schema registry and its wire format."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer

from feedback.services import CollectorServer, make_collector, make_worker
from producers.app import message_key
from producers.intake import accept_events
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from schemas.serde import CONFLUENT_MAGIC, AvroEncoder
from tests.conftest import KEYS
from tests.helpers import event, free_port, new_id, wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.fake_registry import running_registry
from tests.integration.kafka_tools import produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _record(item: dict[str, Any], received_via: str | None) -> dict[str, Any]:
    record = accept_events([item], None, "acme", int(time.time() * 1000)).records[0]
    if received_via is None:
        del record["received_via"]  # what a v1 producer wrote
    else:
        record["received_via"] = received_via
    return record


def test_v1_and_v2_messages_in_one_topic_are_both_stored(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    conversation = new_id("conv-")
    old, new = event("copy", conversation_id=conversation), event("copy", conversation_id=conversation)
    v1, v2 = _record(old, None), _record(new, "beacon")
    topic = settings.topic("implicit")
    produce_raw(settings, topic, AvroEncoder("event", version=1).encode(v1), message_key(v1))
    produce_raw(settings, topic, AvroEncoder("event", version=2).encode(v2), message_key(v2))
    rows = pipeline.wait_rows(
        "SELECT event_id, received_via FROM events WHERE conversation_id = {c:String} ORDER BY received_via",
        2,
        c=conversation,
    )
    assert rows == [(new["event_id"], "beacon"), (old["event_id"], "http")]


def test_with_a_schema_registry_messages_use_the_confluent_wire_format(kafka_settings: Settings) -> None:
    with running_registry() as (url, registry):
        settings = kafka_settings.model_copy(
            update={
                "schema_registry_url": url,
                "topic_prefix": f"registry-{new_id()}.",
                "clickhouse_database": f"registry_{new_id()}",
                "http_addr": f"127.0.0.1:{free_port()}",
            }
        )
        ensure_topics(settings)
        migrate(settings.clickhouse().connect(), settings.clickhouse_database)
        server = CollectorServer(settings, make_collector(settings))
        stop = threading.Event()
        worker = threading.Thread(target=make_worker(settings, settings.clickhouse().connect(), stop=stop).run)
        worker.start()
        server.start_in_thread()
        try:
            base = f"http://{settings.http_addr}"
            wait_for(lambda: _up(base), 30, what="collector")
            registered = event("thumbs")
            response = httpx.post(
                f"{base}/v1/events", json=registered, headers={"Authorization": f"Bearer {KEYS['public']}"}
            )
            assert response.status_code == 202, response.text
            # topic-name strategy: one subject per topic
            assert {f"{settings.topic(k)}-value" for k in ("explicit", "implicit", "traces")} <= set(registry.subjects)

            raw = _first_value(settings, settings.topic("explicit"))
            assert raw[:1] == CONFLUENT_MAGIC

            # a producer without the registry may still write single-object messages: both are read
            plain = event("thumbs")
            record = _record(plain, "http")
            produce_raw(settings, settings.topic("explicit"), AvroEncoder("event").encode(record), message_key(record))

            client = settings.clickhouse().connect(database=settings.clickhouse_database)
            ids = [registered["event_id"], plain["event_id"]]
            wait_for(
                lambda: (
                    client.query(
                        "SELECT count() FROM events WHERE event_id IN {ids:Array(String)}", parameters={"ids": ids}
                    ).result_rows
                    == [(2,)]
                ),
                30,
                what="both framings stored",
            )
        finally:
            server.stop()
            stop.set()
            worker.join(30)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _first_value(settings: Settings, topic: str) -> bytes:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": new_id("peek-"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[bytes] = []

    def got() -> bool:
        for message in consumer.consume(10, 0.5):
            value = message.value()
            if message.error() is None and value:
                found.append(value)
        return bool(found)

    try:
        wait_for(got, 30, what=f"a message in {topic}")
    finally:
        consumer.close()
    return found[0]
