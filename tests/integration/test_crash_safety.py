"""Crashed workers, rebalances and poison messages never change a count."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import Consumer

from feedback.services import make_worker
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.kafka_tools import group_lag, produce_items, produce_raw
from tests.integration.processes import feedback_env, query_json, start_feedback, terminate

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

KINDS = ("thumbs", "rating", "copy", "regenerate", "comment")


def conversations(count: int) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """``count`` conversations, each one trace, one event of each kind about it, and a change of mind:
    the user's thumb down turns up 30 s later (the current opinion counts, once)."""
    out: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
    now = int(time.time() * 1000)
    for _ in range(count):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        events = [
            event(kind, conversation_id=conversation, trace_id=trace_id, timestamp=now - 60_000) for kind in KINDS
        ]
        first = events[0]
        events.append(
            event(
                "thumbs",
                conversation_id=conversation,
                trace_id=trace_id,
                message_id=first["message_id"],
                value="up",
                reasons=["useful"],
                timestamp=now - 30_000,
            )
        )
        out.append((events, trace(trace_id, conversation, model_version=f"mv{len(out) % 4}")))
    return out


def expected_counts(batches: list[list[tuple[list[dict[str, Any]], dict[str, Any]]]]) -> dict[str, int]:
    total = sum(len(batch) for batch in batches)
    return {"events": total * (len(KINDS) + 1), "traces": total}


COUNTS_SQL = """
SELECT
  (SELECT count() FROM events) AS events,
  (SELECT uniqExact(event_id) FROM events) AS unique_events,
  (SELECT countIf(NOT trace_joined) FROM events) AS unjoined,
  (SELECT count() FROM traces) AS traces,
  (SELECT sum(thumbs_up) - sum(thumbs_down) FROM quality_hourly) AS thumbs,
  (SELECT sum(ratings) FROM quality_hourly) AS ratings,
  (SELECT sum(copies) FROM quality_hourly) AS copies,
  (SELECT sum(regenerates) FROM quality_hourly) AS regenerates,
  (SELECT sum(comments) FROM quality_hourly) AS comments,
  (SELECT sum(responses) FROM quality_hourly) AS responses
"""


def assert_exact(row: Sequence[Any], expected: dict[str, int]) -> None:
    # The hourly sums are fed by every insert into events_log and opinions_log (merged away or
    # not): a duplicate write anywhere would show up there, whatever the views hide. Every thumb
    # was changed from down to up: a lost or doubled opinion shows in up minus down.
    events, unique, unjoined, traces, thumbs, ratings, copies, regenerates, comments, responses = row
    per_kind = expected["traces"]
    assert (events, unique) == (expected["events"],) * 2
    assert unjoined == 0
    assert traces == responses == expected["traces"]
    assert (thumbs, ratings, copies, regenerates, comments) == (per_kind,) * 5


def produce(settings: Settings, batch: list[tuple[list[dict[str, Any]], dict[str, Any]]], traces_first: bool) -> None:
    events = [e for conv_events, _ in batch for e in conv_events]
    traces = [t for _, t in batch]
    if traces_first:
        produce_items(settings, events, traces)
    else:  # traces arrive after their signals: the worker must rejoin
        produce_items(settings, events, [])
        produce_items(settings, [], traces)


def _own_clickhouse(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A ClickHouse of the test's own for its worker processes: an engine in tmp_path, or on the
    session's server (a container, an existing cluster) a database of its own."""
    target = settings.clickhouse()
    if target.embedded:
        return {"FEEDBACK_CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}"}
    env = {"FEEDBACK_CLICKHOUSE_URL": target.url, "FEEDBACK_CLICKHOUSE_DATABASE": f"crash_{new_id()}"}
    return env | ({"FEEDBACK_CLICKHOUSE_CLUSTER": target.cluster} if target.cluster else {})


def test_kill_9_mid_stream_then_restart_keeps_counts_exact(tmp_path: Path, kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={"topic_prefix": f"crash-{new_id()}."})
    ensure_topics(settings)
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        FEEDBACK_TOPIC_PREFIX=settings.topic_prefix,
        FEEDBACK_TOPIC_PARTITIONS=str(settings.topic_partitions),
        **_own_clickhouse(settings, tmp_path),
        FEEDBACK_BATCH_MAX_MESSAGES="150",
    )
    batches = []
    for round_no in range(3):
        batch = conversations(300)
        batches.append(batch)
        produce(settings, batch, traces_first=round_no % 2 == 0)
        if round_no == 1:  # a client resends a whole earlier batch
            produce(settings, batches[0], traces_first=True)
        lag_before = group_lag(settings, settings.worker_group)
        worker = start_feedback("worker", env=env, cwd=tmp_path, log=tmp_path / "worker.log")

        def progressed(b: int = lag_before) -> bool:
            return group_lag(settings, settings.worker_group) < b * 0.8

        wait_for(progressed, 60, what="some progress")
        worker.kill()  # SIGKILL: no flush, no commit, mid-batch
        worker.wait(30)

    worker = start_feedback("worker", env=env, cwd=tmp_path, log=tmp_path / "worker.log")
    wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 180, interval_s=0.5, what="worker caught up")
    assert terminate(worker) == 0
    row = query_json(COUNTS_SQL, env, tmp_path)["rows"][0]
    assert_exact(row, expected_counts(batches))


def test_three_workers_with_partitions_moving_keep_counts_exact(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(
        update={
            "topic_prefix": f"group-{new_id()}.",
            "clickhouse_database": f"group_{new_id()}",
            "batch_max_messages": 200,
        }
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    stops = [threading.Event() for _ in range(3)]
    threads: list[threading.Thread] = []

    def start(index: int) -> None:
        worker = make_worker(settings, settings.clickhouse().connect(), stop=stops[index])
        thread = threading.Thread(target=worker.run, name=f"group-worker-{index}", daemon=True)
        thread.start()
        threads.append(thread)

    batches = [conversations(200)]
    produce(settings, batches[0], traces_first=True)
    start(0)
    wait_for(lambda: group_lag(settings, settings.worker_group) < 1100, 60, what="first worker progressing")
    start(1)
    batches.append(conversations(200))
    produce(settings, batches[1], traces_first=False)
    produce(settings, batches[0][:50], traces_first=True)  # resent
    start(2)
    batches.append(conversations(200))
    produce(settings, batches[2], traces_first=True)
    stops[0].set()  # the first worker leaves: its partitions move to the other two
    threads[0].join(60)
    batches.append(conversations(100))
    produce(settings, batches[3], traces_first=False)
    try:
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 180, interval_s=0.5, what="group caught up")
    finally:
        for stop in stops:
            stop.set()
        for thread in threads:
            thread.join(60)
    client = settings.clickhouse().connect(database=settings.clickhouse_database)
    assert_exact(client.query(COUNTS_SQL).result_rows[0], expected_counts(batches))


def test_poison_messages_go_to_the_dlq_and_do_not_block_the_partition(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    conversation = new_id("conv-")
    key = f"acme/{conversation}".encode()
    topic = settings.topic("explicit")
    produce_raw(settings, topic, b"\x00not avro at all", key)
    bogus = {**_record(conversation), "type": "bogus"}
    produce_raw(settings, topic, AvroEncoder("event").encode(bogus), key)
    good = event("thumbs", conversation_id=conversation)
    assert pipeline.post("/v1/events", good).status_code == 202
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=good["event_id"])

    letters = _read_dlq(settings, key, 2)
    reasons = sorted(headers["dlq.reason"] for headers in letters)
    assert reasons == ["schema-invalid", "undecodable"]
    for headers in letters:
        assert headers["dlq.source.topic"] == topic
        assert int(headers["dlq.source.partition"]) >= 0
        assert int(headers["dlq.source.offset"]) >= 0
        assert headers["dlq.detail"]


def _record(conversation: str) -> dict[str, Any]:
    now = 1_795_608_000_000
    return {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "tenant_id": "acme", "type": "thumbs",
        "timestamp": now, "sent_at": None, "received_at": now, "ts": now, "conversation_id": conversation,
        "trace_id": "t", "message_id": "m", "turn_id": None, "response_id": None, "session_id": None,
        "user_id": None, "value": "up", "reasons": [], "comment": None, "edited_text": None,
        "edit_distance": None, "copied_chars": None, "attempt": None, "dwell_ms": None, "properties": {},
    }  # fmt: skip


def _read_dlq(settings: Settings, key: bytes, count: int) -> list[dict[str, str]]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": new_id("dlq-reader-"),
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.topic("dlq")])
    found: list[dict[str, str]] = []

    def more() -> bool:
        for message in consumer.consume(100, 0.5):
            if message.error() is None and message.key() == key:
                # a consumed message's headers are (name, bytes) pairs, never the dict a producer may pass
                headers = cast(list[tuple[str, bytes]], message.headers() or [])
                found.append({k: v.decode() for k, v in headers})
        return len(found) >= count

    try:
        wait_for(more, 30, what="dead letters")
    finally:
        consumer.close()
    return found
