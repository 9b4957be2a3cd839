"""The collector from browsers, under abuse, through Kafka outages and shutdowns."""

from __future__ import annotations

import gzip
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer

from consumers.batch import Batch
from consumers.events_step import Events
from consumers.outcome import Outcome
from feedback.services import CollectorServer, make_collector, make_worker
from runtime.kafka import ensure_topics
from runtime.local_kafka import LocalBroker
from runtime.migrations import migrate
from runtime.settings import Settings
from runtime.telemetry import EVENT_NAME, FeedbackTelemetry, InMemorySink
from schemas.serde import AvroDecoder, AvroEncoder
from tests.conftest import KEYS
from tests.helpers import event, free_port, new_id, otlp_attributes, otlp_log_records, trace, wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.kafka_tools import group_lag, produce_items, produce_raw
from tests.integration.processes import feedback_env, start_feedback

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

ALLOWED = "https://app.acme.com"


def test_cors_preflight_and_per_key_origins(pipeline: RunningPipeline) -> None:
    preflight = pipeline.http.options(
        "/v1/events",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in preflight.headers["access-control-allow-headers"]

    allowed = pipeline.post("/v1/events", event("copy"), key="public_restricted", headers={"Origin": ALLOWED})
    assert allowed.status_code == 202
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    refused = pipeline.post(
        "/v1/events", event("copy"), key="public_restricted", headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert "origin https://evil.example is not allowed" in refused.json()["error"]


def test_gzip_bodies_are_accepted(pipeline: RunningPipeline) -> None:
    item = event("copy")
    response = pipeline.http.post(
        "/v1/events",
        content=gzip.compress(json.dumps({"events": [item]}).encode()),
        headers={"Authorization": f"Bearer {KEYS['public']}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 202, response.text
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=item["event_id"])


def test_size_limits_are_413(pipeline: RunningPipeline) -> None:
    too_many = pipeline.post("/v1/events", {"events": [event("copy") for _ in range(1001)]})
    assert too_many.status_code == 413
    assert "at most 1000" in too_many.json()["error"]
    too_big = pipeline.post("/v1/events", {"events": [event("comment", comment="x" * 4000) for _ in range(300)]})
    assert too_big.status_code == 413
    field = pipeline.post("/v1/events", event("comment", comment="x" * 4001))
    assert field.status_code == 400
    assert field.json()["rejected"][0]["errors"] == ["comment: String should have at most 4000 characters"]


def test_clock_skew_is_corrected_with_sent_at(pipeline: RunningPipeline) -> None:
    skew_ms = 3_600_000  # the client's clock is an hour fast
    client_now = int(time.time() * 1000) + skew_ms
    item = event("copy", timestamp=client_now - 5000)
    before = time.time()
    assert pipeline.post("/v1/events", {"sent_at": client_now, "events": [item]}).status_code == 202
    rows = pipeline.wait_rows(
        "SELECT toUnixTimestamp64Milli(ts), toUnixTimestamp64Milli(received_at), toUnixTimestamp64Milli(timestamp) "
        "FROM events WHERE event_id = {e:String}",
        1,
        e=item["event_id"],
    )
    ts, received_at, timestamp = rows[0]
    assert ts == received_at - 5000
    assert abs(received_at / 1000 - before) < 5
    assert timestamp == client_now - 5000  # the raw client time is kept


def test_rate_limits_answer_429_with_retry_after(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(
        update={"http_addr": f"127.0.0.1:{free_port()}", "rate_limit_user_per_s": 0.5, "rate_limit_user_burst": 2}
    )
    ensure_topics(settings)
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    try:
        base = f"http://{settings.http_addr}"
        wait_for(lambda: _ok(f"{base}/healthz"), 30)
        headers = {"Authorization": f"Bearer {KEYS['public']}"}
        user = new_id("user-")
        batch = {"events": [event("copy", user_id=user), event("copy", user_id=user)]}
        assert httpx.post(f"{base}/v1/events", json=batch, headers=headers).status_code == 202
        limited = httpx.post(f"{base}/v1/events", json=batch, headers=headers)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "user or session" in limited.json()["error"]
        other = {"events": [event("copy", user_id=new_id("user-"))]}
        assert httpx.post(f"{base}/v1/events", json=other, headers=headers).status_code == 202
    finally:
        server.stop()
        thread.join(30)


def test_metrics_cover_collector_and_worker(pipeline: RunningPipeline) -> None:
    pipeline.post("/v1/events", {"events": [event("copy"), event("rating", value=7)]})
    item = event("copy")
    pipeline.post("/v1/events", item)
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=item["event_id"])
    text = pipeline.http.get("/metrics").text
    for name in (
        'feedback_http_requests_total{route="/v1/events",status="202"}',
        'feedback_items_accepted_total{kind="event"}',
        'feedback_items_rejected_total{field="value",kind="event"}',
        "feedback_produce_seconds_bucket",
        "feedback_http_in_flight",
        "feedback_worker_consumed_total",
        'feedback_worker_inserted_rows_total{table="events"}',
        "feedback_worker_lag_messages",
        "feedback_worker_dlq_total",
    ):
        assert name in text, name


def test_an_otel_event_per_explicit_signal(kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": f"otel-{new_id()}.", "clickhouse_database": f"otel_{new_id()}"}
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    sink = InMemorySink()
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop, telemetry=FeedbackTelemetry(sink))
    thread = threading.Thread(target=worker.run, daemon=True)
    slow_paths: list[int] = []
    one_by_one = Events.one_by_one

    def counted_one_by_one(step: Events, batch: Batch) -> Outcome:
        slow_paths.append(1)
        return one_by_one(step, batch)

    monkeypatch.setattr(Events, "one_by_one", counted_one_by_one)
    thread.start()
    try:
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        thumbs = event("thumbs", conversation_id=conversation, trace_id=trace_id, value="down", reasons=["slow"])
        produced = trace(
            trace_id,
            conversation,
            model="otel-model",
            model_version="ov1",
            prompt_version="op7",
            latency_ms=1234,
            tools=[{"name": "search", "success": True}, {"name": "calc", "success": True}],
            retrieval={"doc_ids": ["d1", "d2", "d3"], "scores": [0.9, 0.8, 0.7]},
        )
        produce_items(settings, [], [produced])
        rating = event("rating", conversation_id=conversation, trace_id=trace_id, value=5)
        produce_items(settings, [thumbs, rating, event("copy", conversation_id=conversation, trace_id=trace_id)], [])
        wait_for(lambda: len(otlp_log_records(sink.requests)) >= 2, 30, what="two OTel events")
        records = otlp_log_records(sink.requests)  # decoded by the official OTLP protobuf classes
    finally:
        stop.set()
        thread.join(30)
    assert slow_paths == []  # announcing does not cost the SQL fast path
    assert len(records) == 2  # the copy is implicit
    by_type = {otlp_attributes(record)["feedback.type"]: record for record in records}
    emitted = by_type["thumbs"]
    assert emitted.event_name == EVENT_NAME
    assert emitted.time_unix_nano > 0
    assert otlp_attributes(emitted) == {
        "feedback.type": "thumbs",
        "feedback.event_id": thumbs["event_id"],
        "feedback.tenant_id": "acme",
        "feedback.conversation_id": conversation,
        "feedback.trace_id": trace_id,
        "feedback.message_id": thumbs["message_id"],
        "feedback.thumb": "down",
        "feedback.reasons": ["slow"],
        "feedback.has_comment": False,
        "feedback.trace_joined": True,
        "gen_ai.request.model": "otel-model",
        "gen_ai.provider.name": produced["provider"],
        "feedback.model_version": "ov1",
        "feedback.prompt_version": "op7",
        "feedback.feature": produced["feature"],
        "feedback.latency_ms": 1234,
        "feedback.tool_count": 2,
        "feedback.retrieval_source_count": 3,
    }
    rated = otlp_attributes(by_type["rating"])
    assert rated["feedback.rating"] == 5
    assert "feedback.thumb" not in rated  # absent values are left out
    assert "feedback.reasons" not in rated


def test_the_slow_path_announces_what_it_stores_once(kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": f"otel-slow-{new_id()}.", "clickhouse_database": f"otel_slow_{new_id()}"}
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    conversation, trace_id = new_id("conv-"), new_id("trace-")
    good = event(
        "thumbs", conversation_id=conversation, trace_id=trace_id, value="up", reasons=["useful"], comment="great"
    )
    produce_items(settings, [], [trace(trace_id, conversation, model="slow-model")])
    # a record that breaks the contract, then a good one, in one batch: the batch takes the slow path
    bogus = AvroEncoder("event").encode(_avro_event(conversation, type="bogus"))
    produce_raw(settings, settings.topic("explicit"), bogus, f"acme/{conversation}".encode())
    produce_items(settings, [good], [])
    produce_items(settings, [good], [])  # sent twice: announced once
    slow_paths: list[int] = []
    one_by_one = Events.one_by_one

    def counted_one_by_one(step: Events, batch: Batch) -> Outcome:
        slow_paths.append(1)
        return one_by_one(step, batch)

    monkeypatch.setattr(Events, "one_by_one", counted_one_by_one)
    sink = InMemorySink()
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop, telemetry=FeedbackTelemetry(sink))
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(otlp_log_records(sink.requests)) >= 1, 30, what="the OTel event")
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 30, what="the worker caught up")
    finally:
        stop.set()
        thread.join(30)
    assert slow_paths  # the contract break sent the batch one by one
    records = otlp_log_records(sink.requests)
    assert len(records) == 1
    attributes = otlp_attributes(records[0])
    assert records[0].event_name == EVENT_NAME
    assert attributes["feedback.event_id"] == good["event_id"]
    assert attributes["feedback.thumb"] == "up"
    assert attributes["feedback.has_comment"] is True
    assert attributes["gen_ai.request.model"] == "slow-model"
    assert attributes["feedback.trace_joined"] is True


def _avro_event(conversation: str, **fields: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "event_id": new_id(), "tenant_id": "acme", "type": "thumbs",
        "timestamp": now, "sent_at": None, "received_at": now, "ts": now, "conversation_id": conversation,
        "trace_id": "t", "message_id": "m", "turn_id": None, "response_id": None, "session_id": None,
        "user_id": None, "value": "up", "reasons": [], "comment": None, "edited_text": None,
        "edit_distance": None, "copied_chars": None, "attempt": None, "dwell_ms": None, "properties": {},
        **fields,
    }  # fmt: skip


@pytest.fixture
def own_broker(tmp_path: Path) -> Any:
    broker = LocalBroker(
        home=Settings().kafka_home, data_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port()
    )
    broker.start()
    yield broker
    broker.stop()


def test_kafka_outage_is_503_then_recovers(tmp_path: Path, own_broker: LocalBroker) -> None:
    port = free_port()
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=own_broker.bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_KEYS_FILE=str(Path(__file__).parents[1] / "unit" / "producers" / "keys.sample.json"),
        FEEDBACK_PRODUCE_TIMEOUT_S="3",
        FEEDBACK_TOPIC_PARTITIONS="1",
    )
    collector = start_feedback("collector", env=env, cwd=tmp_path, log=tmp_path / "collector.log")
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": "Bearer pk_1"}
    try:
        wait_for(lambda: _ok(f"{base}/readyz"), 60, what="collector ready")
        assert httpx.post(f"{base}/v1/events", json=event("copy"), headers=headers).status_code == 202

        own_broker.stop()
        started = time.monotonic()
        down = httpx.post(f"{base}/v1/events", json=event("copy"), headers=headers, timeout=30)
        assert down.status_code == 503, down.text
        assert int(down.headers["retry-after"]) >= 1
        assert time.monotonic() - started < 10  # a bounded wait
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 503

        own_broker.start()
        wait_for(
            lambda: httpx.post(f"{base}/v1/events", json=event("copy"), headers=headers, timeout=30).status_code == 202,
            90,
            interval_s=1,
            what="202 again once Kafka is back",
        )
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(60) == 0


def test_sigterm_under_load_loses_nothing_acknowledged(tmp_path: Path, kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={"topic_prefix": f"term-{new_id()}."})
    ensure_topics(settings)
    port = free_port()
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_KEYS_FILE=str(settings.keys_file),
        FEEDBACK_TOPIC_PREFIX=settings.topic_prefix,
        FEEDBACK_RATE_LIMIT_USER_PER_S="0",
        FEEDBACK_RATE_LIMIT_ADDRESS_PER_S="0",
    )
    collector = start_feedback("collector", env=env, cwd=tmp_path, log=tmp_path / "collector.log")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _ok(f"{base}/readyz"), 60, what="collector ready")
    acknowledged: list[str] = []
    lock = threading.Lock()

    def fire() -> None:
        with httpx.Client(timeout=30) as http:
            for _ in range(10_000):
                batch = [event("copy") for _ in range(20)]
                try:
                    response = http.post(
                        f"{base}/v1/events",
                        json={"events": batch},
                        headers={"Authorization": f"Bearer {KEYS['public']}"},
                    )
                except httpx.HTTPError:
                    return  # the collector stopped taking requests
                if response.status_code == 202:
                    with lock:
                        acknowledged.extend(e["event_id"] for e in batch)

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) > 500, 60, what="load")
    collector.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(60)
    assert collector.wait(60) == 0, (tmp_path / "collector.log").read_text()[-2000:]
    stored = _event_ids_in(settings, "implicit")
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka"


def _event_ids_in(settings: Settings, kind: str) -> set[str]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": new_id("check-"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([settings.topic(kind)])
    decoder, ids = AvroDecoder("event"), set()
    idle = 0
    try:
        while idle < 6:
            messages = consumer.consume(1000, 0.5)
            idle = 0 if messages else idle + 1
            for message in messages:
                if message.error() is None:
                    value = message.value()
                    assert value is not None  # events are never tombstones
                    ids.add(decoder.decode(value)["event_id"])
    finally:
        consumer.close()
    return ids


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
