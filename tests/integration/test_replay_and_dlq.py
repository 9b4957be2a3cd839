"""Data engineers: replay any slice without double counting; see and redrive dead letters."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from consumers import dlq
from feedback.cli import app
from producers.app import message_key
from producers.intake import accept_events
from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.kafka_tools import group_lag

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

SNAPSHOT = """
SELECT
  (SELECT count() FROM {db}.events), (SELECT uniqExact(event_id) FROM {db}.events),
  (SELECT countIf(trace_joined) FROM {db}.events), (SELECT count() FROM {db}.traces),
  (SELECT sum(thumbs_up + thumbs_down + ratings + comments + copies + regenerates + edits) FROM {db}.quality_hourly),
  (SELECT sum(responses) FROM {db}.quality_hourly), (SELECT count() FROM {db}.ratings_current)
"""


def cli(settings: Settings, *args: str) -> str:
    env = {
        "FEEDBACK_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "FEEDBACK_TOPIC_PREFIX": settings.topic_prefix,
        "FEEDBACK_CLICKHOUSE_URL": settings.clickhouse_url.get_secret_value(),
        "FEEDBACK_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "FEEDBACK_KEYS_FILE": str(settings.keys_file),
        "FEEDBACK_LOG_LEVEL": "warning",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(pipeline: RunningPipeline, database: str) -> tuple[Any, ...]:
    return pipeline.rows(SNAPSHOT.format(db=database))[0]


def caught_up(pipeline: RunningPipeline) -> None:
    """Wait until a marker sent now is stored: everything sent before is stored too (per partition).
    The markers are ratings, whose current opinions are written last in a worker's batch."""
    markers = [event("rating", conversation_id=new_id("marker-"), value=3) for _ in range(12)]
    assert pipeline.post("/v1/events", {"events": markers}).status_code == 202
    ids = [m["event_id"] for m in markers]
    pipeline.wait_rows("SELECT 1 FROM ratings_current WHERE rating_event_id IN {ids:Array(String)}", len(ids), ids=ids)


def test_replay_is_idempotent_and_rebuilds_a_fresh_database(pipeline: RunningPipeline) -> None:
    for _ in range(5):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        signals = [event(k, conversation_id=conversation, trace_id=trace_id) for k in ("thumbs", "copy", "rating")]
        pipeline.post("/v1/events", {"events": signals})
        pipeline.post("/v1/traces", trace(trace_id, conversation), key="secret")
    caught_up(pipeline)
    live_db = pipeline.settings.clickhouse_database
    before = snapshot(pipeline, live_db)

    output = cli(pipeline.settings, "replay", "--topic", "traces,explicit,implicit", "--from", "0")
    if pipeline.settings.clickhouse().embedded:
        assert "already stored" in output
    else:  # a server's live database while the live group runs: its workers store the copies
        assert "to the live workers (each stored once)" in output
        settings = pipeline.settings
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 60, what="the copies handled")
    assert snapshot(pipeline, live_db) == before  # replaying into the live database changes nothing

    rebuilt = f"rebuild_{new_id()}"
    cli(pipeline.settings, "replay", "--topic", "traces,explicit,implicit", "--from", "1d", "--database", rebuilt)
    first = snapshot(pipeline, rebuilt)
    cli(pipeline.settings, "replay", "--topic", "traces,explicit,implicit", "--from", "0", "--database", rebuilt)
    assert snapshot(pipeline, rebuilt) == first  # twice: no count changes
    # the rebuild holds what the live database held when we looked (it may have grown since)
    assert first[0] >= before[0]
    assert first[3] >= before[3]


def test_replay_slice_by_partition_and_offsets(pipeline: RunningPipeline) -> None:
    output = cli(pipeline.settings, "replay", "--topic", "explicit", "--partition", "0", "--from", "0", "--to", "1")
    assert "read 1," in output or "read 0," in output


def test_replay_rejects_bad_positions_clearly(pipeline: RunningPipeline) -> None:
    env = {
        "FEEDBACK_KAFKA_BOOTSTRAP": pipeline.settings.kafka_bootstrap,
        "FEEDBACK_TOPIC_PREFIX": pipeline.settings.topic_prefix,
    }
    result = CliRunner().invoke(app, ["replay", "--topic", "explicit", "--from", "yesterday"], env=env)
    assert result.exit_code == 2
    assert "--from: 'yesterday' is not an offset" in result.output


def test_dlq_list_show_and_redrive_counts_once(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    # A valid event that a (since fixed) worker dead-lettered: redriving it must store it once.
    good = event("thumbs", conversation_id=new_id("conv-"))
    record = accept_events([good], None, "acme", int(time.time() * 1000)).records[0]
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topic("dlq"),
        AvroEncoder("event").encode(record),
        message_key(record),
        headers=[
            (dlq.REASON, b"clickhouse-rejected"),
            (dlq.DETAIL, b"simulated: a bug fixed since"),
            (dlq.SOURCE_TOPIC, settings.topic("explicit").encode()),
            (dlq.SOURCE_PARTITION, b"0"),
            (dlq.SOURCE_OFFSET, b"42"),
            (dlq.FAILED_AT, str(int(time.time() * 1000)).encode()),
        ],
    )
    assert producer.flush(30) == 0

    listed = cli(settings, "dlq", "list")
    assert "clickhouse-rejected" in listed
    ref = next(line.split("│")[1].strip() for line in listed.splitlines() if "clickhouse-rejected" in line)
    shown = cli(settings, "dlq", "show", ref)
    assert "reason: clickhouse-rejected" in shown
    assert f"source_topic: {settings.topic('explicit')}" in shown

    assert "would redrive" in cli(settings, "dlq", "redrive", "--reason", "clickhouse-rejected", "--dry-run")
    assert cli(settings, "dlq", "redrive", "--reason", "clickhouse-rejected").strip() == "redrove 1 dead letter(s)"
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=good["event_id"])
    assert cli(settings, "dlq", "redrive", "--reason", "clickhouse-rejected").strip() == "redrove 0 dead letter(s)"
    cli(settings, "dlq", "redrive", "--reason", "clickhouse-rejected", "--all")  # resent anyway
    caught_up(pipeline)
    assert pipeline.rows("SELECT count() FROM events WHERE event_id = {e:String}", e=good["event_id"]) == [(1,)]
    assert pipeline.rows(
        "SELECT count() FROM events WHERE conversation_id = {c:String}", c=good["conversation_id"]
    ) == [(1,)]
    assert json.dumps(good)  # the item itself was valid all along


def _dead_letter(settings: Settings, reason: str) -> dict[str, Any]:
    """Put a valid event in the DLQ as if a (since fixed) worker had dead-lettered it for ``reason``."""
    item = event("thumbs", conversation_id=new_id("conv-"))
    record = accept_events([item], None, "acme", int(time.time() * 1000)).records[0]
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topic("dlq"),
        AvroEncoder("event").encode(record),
        message_key(record),
        partition=0,
        headers=[
            (dlq.REASON, reason.encode()),
            (dlq.DETAIL, b"simulated"),
            (dlq.SOURCE_TOPIC, settings.topic("explicit").encode()),
            (dlq.SOURCE_PARTITION, b"0"),
            (dlq.SOURCE_OFFSET, b"7"),
            (dlq.FAILED_AT, str(int(time.time() * 1000)).encode()),
        ],
    )
    assert producer.flush(30) == 0
    return item


def test_redrive_by_reason_marks_only_the_letters_it_redrove(pipeline: RunningPipeline) -> None:
    settings = pipeline.settings
    other, chosen = f"other-{new_id()}", f"chosen-{new_id()}"
    # the letter of the other reason comes first in the partition: marking by offset would skip it
    left_behind = _dead_letter(settings, other)
    sent = _dead_letter(settings, chosen)
    assert cli(settings, "dlq", "redrive", "--reason", chosen).strip() == "redrove 1 dead letter(s)"
    assert cli(settings, "dlq", "redrive", "--reason", chosen).strip() == "redrove 0 dead letter(s)"
    assert cli(settings, "dlq", "redrive", "--reason", other).strip() == "redrove 1 dead letter(s)"
    assert cli(settings, "dlq", "redrive", "--reason", other).strip() == "redrove 0 dead letter(s)"
    ids = [left_behind["event_id"], sent["event_id"]]
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id IN {ids:Array(String)}", 2, ids=ids)
    listed = [line for line in cli(settings, "dlq", "list").splitlines() if chosen in line or other in line]
    assert len(listed) == 2, listed
    assert all("yes" in line for line in listed), listed
