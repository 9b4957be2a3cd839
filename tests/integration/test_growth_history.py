"""The growth bench's history loader (``bench/growth_history.py``) stores what the worker stores.

The loader fills the worker's stage tables in SQL and runs the worker's own statements; here the
very same records also go the real way — Avro, Kafka, the running worker — and every table a
reader sees must come out identical: ``events``, ``traces``, ``ratings_current``,
``quality_hourly``, ``reasons_hourly``. Late traces included (one in 50 arrives after its events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from confluent_kafka import Producer

from bench.growth_history import History, HistoryLoader, event_rows_sql, trace_rows_sql
from producers.app import message_key
from runtime.kafka import producer_config
from runtime.migrations import migrate
from schemas.serde import AvroEncoder
from schemas.vocabulary import topic_kind
from tests.helpers import new_id, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

CHUNKS = ((0, 400), (400, 300))  # (first event, events): 700 events, 350 traces, 7 of them late


def _millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def _event_record(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _millis(value) for name, value in row.items()}


def _trace_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: _millis(value) for name, value in row.items()}
    record["retrieval"] = dict(row["retrieval"]) if row["retrieval"] is not None else None
    record["tools"] = [dict(tool) for tool in row["tools"]]
    return record


def _rows(pipeline: RunningPipeline, sql: str) -> list[dict[str, Any]]:
    return list(pipeline.client.query(sql).named_results())


def _send(pipeline: RunningPipeline, history: History) -> None:
    """The loader's records, in the loader's order, through Kafka to the running worker."""
    producer = Producer(producer_config(pipeline.settings, **{"linger.ms": 20}))
    events, traces = AvroEncoder("event"), AvroEncoder("trace")
    for start, count in CHUNKS:
        first, n = start // 2, count // 2
        for late in (False, None, True):
            if late is None:
                for row in _rows(pipeline, event_rows_sql(history, start, count)):
                    record = _event_record(row)
                    topic = pipeline.settings.topic(topic_kind(record["type"]))
                    producer.produce(topic, events.encode(record), message_key(record))
            else:
                for row in _rows(pipeline, trace_rows_sql(history, first, n, late=late)):
                    record = _trace_record(row)
                    producer.produce(pipeline.settings.topic("traces"), traces.encode(record), message_key(record))
            producer.flush(60)
    assert producer.flush(60) == 0


def test_history_loaded_in_sql_equals_what_the_worker_stores_from_kafka(pipeline: RunningPipeline) -> None:
    prefix = new_id("g")
    history = History.spanning(2_000, 1.0, prefix=prefix, tenants=(f"{prefix}-a", f"{prefix}-b"))
    bulk_db = f"growth_{prefix}"
    loader_client = pipeline.settings.clickhouse().connect()
    migrate(loader_client, bulk_db)
    loader = HistoryLoader(loader_client, bulk_db, history)
    for start, count in CHUNKS:
        loader.chunk(start, count)
    loader.chunk(*CHUNKS[0])  # a chunk loaded again (a resumed load) stores nothing twice
    _send(pipeline, history)

    live_db = pipeline.settings.clickhouse_database
    tenants = f"tenant_id IN ('{prefix}-a', '{prefix}-b')"
    queries = {
        "events": f"SELECT * FROM {{db}}.events WHERE {tenants} ORDER BY tenant_id, event_id",
        "traces": f"SELECT * FROM {{db}}.traces WHERE {tenants} ORDER BY tenant_id, trace_id",
        "ratings_current": f"SELECT * FROM {{db}}.ratings_current WHERE {tenants} "
        "ORDER BY tenant_id, message_id, rater_kind, rater",
        "quality_hourly": f"SELECT * FROM {{db}}.quality_hourly WHERE {tenants} "
        "ORDER BY tenant_id, hour, model, model_version, prompt_version, feature",
        "reasons_hourly": f"SELECT * FROM {{db}}.reasons_hourly WHERE {tenants} "
        "ORDER BY tenant_id, hour, model, model_version, prompt_version, feature, reason",
    }
    bulk = {name: _rows(pipeline, sql.format(db=bulk_db)) for name, sql in queries.items()}
    assert len(bulk["events"]) == sum(count for _, count in CHUNKS)
    assert len(bulk["traces"]) == sum(count for _, count in CHUNKS) // 2
    assert all(row["trace_joined"] for row in bulk["events"] if row["type"] != "abandon")
    assert bulk["ratings_current"]
    assert bulk["reasons_hourly"]

    def same() -> bool:
        return all(_rows(pipeline, sql.format(db=live_db)) == bulk[name] for name, sql in queries.items())

    wait_for(same, 90, interval_s=0.5, what="the worker's tables to equal the loader's")
    for name, sql in queries.items():
        assert _rows(pipeline, sql.format(db=live_db)) == bulk[name], name
