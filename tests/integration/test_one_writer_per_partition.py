"""One writer per partition, also for replays and rejoins: a replay racing a live worker that is
behind on the same topics, and two rejoins at once, leave every count exact."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from consumers.bulk_traces import BulkTraceWriter
from consumers.frames import Framed
from feedback.services import make_worker
from operations.positions import Position
from operations.rejoin import rejoin_all
from operations.replay import plan_slice, replay, through_live_group
from operations.replay_forward import forward, live_group_active
from producers.intake import accept_traces
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from runtime.telemetry import FeedbackTelemetry, InMemorySink
from schemas.serde import AvroDecoder, AvroEncoder
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.kafka_tools import group_lag, produce_items
from tests.integration.test_exact_counts import (
    QUALITY_FROM_EVENTS,
    QUALITY_TABLE,
    RESPONSES_FROM_TRACES,
    RESPONSES_TABLE,
)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

EXACT = """
SELECT (SELECT count() FROM events WHERE tenant_id = {t:String}),
       (SELECT uniqExact(event_id) FROM events WHERE tenant_id = {t:String}),
       (SELECT countIf(trace_joined) FROM events WHERE tenant_id = {t:String}),
       (SELECT count() FROM traces WHERE tenant_id = {t:String}),
       (SELECT sum(sign) FROM events_log WHERE tenant_id = {t:String}),
       (SELECT sum(responses) FROM quality_hourly WHERE tenant_id = {t:String})
"""


def _own(kafka_settings: Settings, name: str) -> Settings:
    settings = kafka_settings.model_copy(
        update={
            "topic_prefix": f"{name}-{new_id()}.",
            "clickhouse_database": f"{name.replace('-', '_')}_{new_id()}",
            "worker_group": f"{name}-{new_id()}",
            "batch_max_messages": 50,  # many small batches: many chances to interleave
        }
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    return settings


def _workload(conversations: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events, traces = [], []
    for _ in range(conversations):
        conversation = new_id("conv-")
        for _turn in range(2):
            trace_id = new_id("tr-")
            traces.append(trace(trace_id, conversation))
            for kind in ("thumbs", "copy", "regenerate"):
                events.append(event(kind, conversation_id=conversation, trace_id=trace_id))
    return events, traces


def _client(settings: Settings) -> Client:
    return settings.clickhouse().connect(database=settings.clickhouse_database)


def _assert_exact(settings: Settings, events: int, traces: int, joined: int) -> None:
    client = _client(settings)
    row = client.query(EXACT, parameters={"t": "acme"}).result_rows[0]
    assert row == (events, events, joined, traces, events, traces)
    for derived, table in ((QUALITY_FROM_EVENTS, QUALITY_TABLE), (RESPONSES_FROM_TRACES, RESPONSES_TABLE)):
        expected = client.query(derived, parameters={"t": "acme"}).result_rows
        assert client.query(table, parameters={"t": "acme"}).result_rows == expected


def _run_all(*jobs: Callable[[], object]) -> None:
    failures: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], object]) -> None:
        try:
            start.wait(30)
            job()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not failures, failures


def test_a_replay_racing_a_live_worker_that_is_behind_counts_everything_once(kafka_settings: Settings) -> None:
    settings = _own(kafka_settings, "race-replay")
    events, traces = _workload(150)
    produce_items(settings, events, traces)  # all of it waits: the live worker is behind by everything
    stop = threading.Event()
    # With telemetry on, the live worker notes the new events, inserts, then reads them back: a
    # wider check-then-insert window, against the replay's one-statement fast path.
    telemetry = FeedbackTelemetry(InMemorySink())
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop, telemetry=telemetry)
    worker_thread = threading.Thread(target=worker.run, name="race-live-worker", daemon=True)

    def replay_everything() -> None:
        client = settings.clickhouse().connect()
        for kind in ("traces", "explicit", "implicit"):
            part = plan_slice(settings, settings.topic(kind), Position(offset=0), None, None)
            replay(settings, client, settings.clickhouse_database, part, batch_size=50)

    def live() -> None:
        worker_thread.start()
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 240, what="the live worker caught up")

    try:
        _run_all(replay_everything, live)
    finally:
        stop.set()
        worker_thread.join(60)
    _assert_exact(settings, len(events), len(traces), joined=len(events))


def test_two_rejoins_at_once_rejoin_each_event_once(kafka_settings: Settings) -> None:
    settings = _own(kafka_settings, "race-rejoin")
    events, traces = _workload(150)
    # the events are stored with no trace known (as if the traces were loaded some other way later)
    produce_items(settings, events, [])
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    worker_thread = threading.Thread(target=worker.run, name="race-rejoin-worker", daemon=True)
    worker_thread.start()
    try:
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 120, what="the events stored")
    finally:
        stop.set()
        worker_thread.join(60)
    _load_traces_without_rejoining(settings, traces)
    database = settings.clickhouse_database
    counts: list[int] = []

    def rejoin() -> None:
        counts.append(rejoin_all(settings.clickhouse().connect(), database, chunk=40))

    _run_all(rejoin, rejoin, rejoin)
    assert sum(counts) == len(events)
    _assert_exact(settings, len(events), len(traces), joined=len(events))


def _load_traces_without_rejoining(settings: Settings, traces: list[dict[str, Any]]) -> None:
    """Traces stored the way another loader would: the rows only, no event rejoined."""
    writer = BulkTraceWriter(settings.clickhouse().connect(), settings.clickhouse_database)
    encoder, decoder = AvroEncoder("trace"), AvroDecoder("trace")
    framed = []
    for record in accept_traces(traces, "acme", int(time.time() * 1000)).records:
        payload = encoder.encode(record)
        schema, start = decoder.writer_of(payload)
        framed.append(Framed(schema, payload[start:]))
    writer._stage.load(framed)
    writer._stage.run(writer._insert)


@pytest.mark.chdb
def test_an_embedded_engines_replay_writes_itself(base_settings: Settings) -> None:
    # embedded: one process owns the engine, and its locks suffice (no live group asked)
    assert not through_live_group(base_settings, base_settings.clickhouse_database)


def test_a_replay_into_a_servers_live_database_goes_through_the_live_group(kafka_settings: Settings) -> None:
    settings = _own(kafka_settings, "race-forward")
    events, traces = _workload(40)
    produce_items(settings, events, traces)
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    worker_thread = threading.Thread(target=worker.run, name="forward-live-worker", daemon=True)
    worker_thread.start()
    try:
        wait_for(lambda: live_group_active(settings), 60, what="the live group has a member")
        server = settings.model_copy(update={"clickhouse_url": SecretStr("http://user:pass@clickhouse.invalid:8123")})
        assert through_live_group(server, server.clickhouse_database)
        assert not through_live_group(server, "a_database_of_its_own")
        # what a server-mode replay does: the copies reach the live worker, which stores each once
        copied = 0
        for kind in ("traces", "explicit", "implicit"):
            part = plan_slice(settings, settings.topic(kind), Position(offset=0), None, None)
            copied += forward(settings, part.topic, part.start, part.end)
        assert copied == len(events) + len(traces)
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 120, what="the copies handled")
    finally:
        stop.set()
        worker_thread.join(60)
    _assert_exact(settings, len(events), len(traces), joined=len(events))
