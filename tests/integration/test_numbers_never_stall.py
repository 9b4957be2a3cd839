"""A number its column cannot hold never wraps and never stalls the worker: the message is
dead-lettered with its reason, its siblings are stored. Also when only ClickHouse notices."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import consumers.bulk
import consumers.records
from feedback.services import make_worker
from operations.dlq_admin import Letter, read_letters
from producers.app import message_key
from producers.intake import accept_events, accept_traces
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from schemas.errors import SchemaError
from schemas.serde import AvroDecoder, AvroEncoder
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.kafka_tools import produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _records(items: list[dict[str, Any]], **overrides: Any) -> list[dict[str, Any]]:
    """Valid records as the collector makes them; ``overrides`` go into the first, by hand."""
    records = accept_events(items, None, "acme", int(time.time() * 1000)).records
    assert len(records) == len(items)
    records[0].update(overrides)
    return records


def _produce(settings: Settings, records: list[dict[str, Any]], subject: str = "event") -> None:
    encoder = AvroEncoder(subject)
    topic = settings.topic("implicit" if subject == "event" else "traces")
    for record in records:  # one conversation: one partition, so one batch holds them all
        produce_raw(settings, topic, encoder.encode(record), message_key(record))


def _letters_for(settings: Settings, key: str, subject: str = "event") -> list[Letter]:
    decoder = AvroDecoder(subject)
    field = "event_id" if subject == "event" else "trace_id"
    found = []
    for letter in read_letters(settings):
        try:
            if letter.value and decoder.decode(letter.value).get(field) == key:
                found.append(letter)
        except SchemaError:
            continue  # a letter of the other subject, or garbage another test dead-lettered
    return found


def test_an_out_of_range_count_past_intake_is_dead_lettered_and_its_siblings_stored(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    conversation = new_id("conv-")
    items = [event("copy", conversation_id=conversation) for _ in range(5)]
    _produce(settings, _records(items, copied_chars=2**32))
    good = [item["event_id"] for item in items[1:]]
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id IN {ids:Array(String)}", 4, ids=good)
    letters = wait_for(lambda: _letters_for(settings, items[0]["event_id"]), 30, what="the dead letter")
    assert letters[0].detail == "copied_chars: must be at most 4294967295"
    # never stored wrapped (2^32 would be 0 in a UInt32)
    assert pipeline.rows("SELECT count() FROM events WHERE event_id = {e:String}", e=items[0]["event_id"]) == [(0,)]


def test_an_out_of_range_trace_number_is_dead_lettered_and_its_siblings_stored(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    conversation = new_id("conv-")
    items = [trace(new_id("tr-"), conversation) for _ in range(4)]
    records = accept_traces(items, "acme", int(time.time() * 1000)).records
    records[0]["tools"] = [{"name": "search", "success": True, "latency_ms": 2**40, "error": None}]
    _produce(settings, records, "trace")
    good = [item["trace_id"] for item in items[1:]]
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id IN {ids:Array(String)}", 3, ids=good)
    letters = wait_for(lambda: _letters_for(settings, items[0]["trace_id"], "trace"), 30, what="the dead letter")
    assert letters[0].detail == "tools.latency_ms: must be at most 4294967295"


@pytest.fixture
def worker_without_bounds(kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A worker of its own whose checks know nothing of the bounds (as if a column were narrowed
    without updating them): only ClickHouse notices the value."""
    settings = kafka_settings.model_copy(
        update={"topic_prefix": f"nobounds-{new_id()}.", "clickhouse_database": f"nobounds_{new_id()}"}
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    monkeypatch.setattr(consumers.records, "out_of_range", lambda _subject, _record: None)
    monkeypatch.setattr(consumers.bulk, "VIOLATIONS", "SELECT 0")
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    thread = threading.Thread(target=worker.run, name="nobounds-worker", daemon=True)
    thread.start()
    try:
        yield settings
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


def test_a_value_only_clickhouse_refuses_is_isolated_not_retried_forever(worker_without_bounds: Settings) -> None:
    settings = worker_without_bounds
    conversation = new_id("conv-")
    items = [event("copy", conversation_id=conversation) for _ in range(9)]
    records = _records(items, copied_chars=2**32)
    _produce(settings, records[4:5] + records[:4] + records[5:])
    client = settings.clickhouse().connect(database=settings.clickhouse_database)
    good = [item["event_id"] for item in items[1:]]
    wait_for(
        lambda: (
            client.query(
                "SELECT count() FROM events WHERE event_id IN {ids:Array(String)}", parameters={"ids": good}
            ).result_rows
            == [(8,)]
        ),
        60,
        what="the siblings stored",
    )
    letters = wait_for(lambda: _letters_for(settings, items[0]["event_id"]), 30, what="the dead letter")
    assert [letter.reason for letter in letters] == ["clickhouse-rejected"]
    assert len(read_letters(settings)) == 1
