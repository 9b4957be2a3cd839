"""The in-process paths the services are compared with, and the worker's prefill.

- ``produce``: items → ``accept_events``/``accept_traces`` (pydantic) → ``AvroEncoder`` →
  confluent-kafka (``producer_config``: idempotent, acks=all) → every delivery report. No HTTP.
- ``insert_baseline``: decoded records → ``event_row``/``trace_row`` → clickhouse-connect insert
  into ``events_log``/``traces_log`` of a freshly migrated database (chdb). No Kafka. Runs in a
  spawned child: chdb allows one engine path per process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from confluent_kafka import KafkaError, Message, Producer

from bench.data import EVENTS_PER_TRACE, TENANT, Generator
from bench.processes import own_cpu_s
from consumers.errors import Backpressure
from consumers.rows import TraceDims, event_row, trace_row
from consumers.store import ClickHouseStore
from producers.app import message_key
from producers.intake import Intake, accept_events, accept_traces
from runtime.clickhouse import ClickHouseTarget
from runtime.kafka import producer_config
from runtime.logs import configure_logging
from runtime.migrations import migrate
from runtime.readonly_query import clickhouse_message
from runtime.settings import Settings
from schemas.serde import AvroDecoder, AvroEncoder
from schemas.vocabulary import topic_kind

Kind = str  # "event" or "trace"
Workload = Iterable[tuple[Kind, list[dict[str, Any]]]]


@dataclass
class ProduceResult:
    events: int
    traces: int
    errors: int
    seconds: float
    cpu_s: float = 0.0  # this process's CPU (every thread, librdkafka's too) over the run

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def intake(kind: Kind, items: list[dict[str, Any]], received_at: int) -> Intake:
    if kind == "event":
        return accept_events(items, None, TENANT, received_at)
    return accept_traces(items, TENANT, received_at)


def produce(settings: Settings, workload: Workload) -> ProduceResult:
    """Validate, encode and produce every batch; returns once Kafka acknowledged all of them."""
    producer = Producer(producer_config(settings))
    encoders = {"event": AvroEncoder("event"), "trace": AvroEncoder("trace")}
    topics = {kind: settings.topic(kind) for kind in ("explicit", "implicit", "traces")}
    errors = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal errors
        if err is not None:
            errors += 1

    counts = {"event": 0, "trace": 0}
    started, cpu_started = time.perf_counter(), own_cpu_s()
    for kind, items in workload:
        accepted = intake(kind, items, time.time_ns() // 1_000_000)
        encode = encoders[kind].encode
        for record in accepted.records:
            topic = topics["traces"] if kind == "trace" else topics[topic_kind(record["type"])]
            value, key = encode(record), message_key(record)
            while True:
                try:
                    producer.produce(topic, value, key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
        counts[kind] += len(accepted.records)
        producer.poll(0)
    left = producer.flush(60)
    seconds = time.perf_counter() - started
    return ProduceResult(counts["event"], counts["trace"], errors + left, seconds, own_cpu_s() - cpu_started)


def worker_workload(generator: Generator, events: int, chunk: int = 600) -> Workload:
    """Events and the traces they point at, interleaved as a backend and its users would send them:
    a chunk's traces, then that chunk's events (traces and events meet in the worker's batches)."""
    for start in range(0, events, chunk):
        count = min(chunk, events - start)
        first_trace, last_trace = start // EVENTS_PER_TRACE, (start + count - 1) // EVENTS_PER_TRACE
        yield "trace", [generator.trace(t) for t in range(first_trace, last_trace + 1)]
        yield "event", [generator.event(start + i) for i in range(count)]


@dataclass(frozen=True)
class InsertSpec:
    chdb_path: str
    seed: int
    run: str
    now_ms: int
    events: int
    batch: int  # messages per insert, like the worker's batch


def insert_baseline(spec: InsertSpec) -> dict[str, Any]:
    """Entry point of a spawned child: the worker's rows, written without Kafka. A failed insert
    is reported (``error``), not raised: the other numbers of the stage still count."""
    configure_logging("console", "warning")
    try:
        return _insert_baseline(spec)
    except (ClickHouseError, Backpressure) as exc:
        return {"error": clickhouse_message(exc)}


def _insert_baseline(spec: InsertSpec) -> dict[str, Any]:
    generator = Generator(spec.seed, run=spec.run, now_ms=spec.now_ms)
    decoders = {"event": AvroDecoder("event"), "trace": AvroDecoder("trace")}
    encoders = {"event": AvroEncoder("event"), "trace": AvroEncoder("trace")}
    events: list[dict[str, Any]] = []
    traces: list[dict[str, Any]] = []
    for kind, items in worker_workload(generator, spec.events):
        for record in intake(kind, items, spec.now_ms).records:  # untimed: decoded records
            decoded = decoders[kind].decode(encoders[kind].encode(record))
            (events if kind == "event" else traces).append(decoded)

    client = ClickHouseTarget(f"chdb://{spec.chdb_path}").connect()
    migrate(client, "feedback")
    store = ClickHouseStore(client, "feedback")
    rows_s = insert_s = 0.0
    started = time.perf_counter()
    dims: dict[tuple[str, str], TraceDims] = {}
    for start in range(0, len(traces), spec.batch):
        mark = time.perf_counter()
        chunk = traces[start : start + spec.batch]
        rows = [trace_row(trace) for trace in chunk]
        for trace in chunk:
            dims[(trace["tenant_id"], trace["trace_id"])] = TraceDims.of_trace(trace)
        rows_s += time.perf_counter() - mark
        mark = time.perf_counter()
        store.insert_traces(rows)
        insert_s += time.perf_counter() - mark
    for start in range(0, len(events), spec.batch):
        mark = time.perf_counter()
        rows = [
            event_row(event, dims.get((event["tenant_id"], event["trace_id"] or "")))
            for event in events[start : start + spec.batch]
        ]
        rows_s += time.perf_counter() - mark
        mark = time.perf_counter()
        store.insert_events(rows)
        insert_s += time.perf_counter() - mark
    seconds = time.perf_counter() - started
    stored = client.query("SELECT count() FROM feedback.events").result_rows[0][0]
    client.close()
    return {
        "events": len(events),
        "traces": len(traces),
        "seconds": seconds,
        "rows_s": rows_s,
        "insert_s": insert_s,
        "stored": float(stored),
    }
