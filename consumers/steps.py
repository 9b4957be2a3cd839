"""The worker's processing chain: decode → dead-letter → traces → events → write → commit.

Each step has one job and hands the batch to its ``next_step``; ``build_chain`` wires them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import structlog
from confluent_kafka import Consumer, KafkaException

from consumers.batch import Batch
from consumers.dlq import DeadLetters
from consumers.errors import InvalidMessage
from consumers.metrics import DUPLICATES, INSERTED, INVALID, LAG
from consumers.rows import (
    EVENT_COLUMNS,
    EVENT_INDEX,
    TRACE_INDEX,
    TraceDims,
    cancelled_trace_row,
    event_row,
    rejoined_rows,
    trace_row,
    trace_version,
)
from consumers.store import ClickHouseStore, Key
from runtime.telemetry import FeedbackTelemetry
from schemas.errors import SchemaError
from schemas.registry import SchemaRegistry
from schemas.serde import AvroDecoder
from schemas.vocabulary import EVENT_TYPES, EXPLICIT_TYPES

log = structlog.get_logger(__name__)


class Step(Protocol):
    def submit(self, batch: Batch) -> None: ...


class Decode:
    """Avro bytes → records; what cannot be read or breaks the contract is marked invalid."""

    def __init__(
        self, subject_of_topic: Callable[[str], str], next_step: Step, registry: SchemaRegistry | None = None
    ) -> None:
        self._subject_of_topic = subject_of_topic
        self._decoders = {subject: AvroDecoder(subject, registry=registry) for subject in ("event", "trace")}
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        for message in batch.messages:
            subject = self._subject_of_topic(str(message.topic()))
            try:
                record = self._decode(subject, message.value())
            except InvalidMessage as error:
                batch.invalid.append((message, error))
                continue
            (batch.events if subject == "event" else batch.traces).append(record)
        self.next_step.submit(batch)

    def _decode(self, subject: str, payload: bytes | None) -> dict[str, Any]:
        if not payload:
            raise InvalidMessage("undecodable", "empty message value")
        try:
            record = self._decoders[subject].decode(payload)
        except SchemaError as exc:
            raise InvalidMessage("undecodable", str(exc)) from exc
        problem = contract_violation(subject, record)
        if problem:
            raise InvalidMessage("schema-invalid", problem)
        return record


def contract_violation(subject: str, record: dict[str, Any]) -> str | None:
    """The worker's own check of what it relies on (producers other than ours may write too)."""
    required = (
        ("tenant_id", "event_id", "conversation_id")
        if subject == "event"
        else ("tenant_id", "trace_id", "conversation_id")
    )
    for name in required:
        if not record.get(name):
            return f"{name}: required, missing or empty"
    if subject == "event" and record["type"] not in EVENT_TYPES:
        return f"type: {record['type']!r} is not an event type"
    return None


class DeadLetter:
    """Invalid messages go to the DLQ, acknowledged before the batch may be committed.
    Without a DLQ (a replay: its poison is in the DLQ already) they are only counted and logged."""

    def __init__(self, dead_letters: DeadLetters | None, next_step: Step) -> None:
        self._dlq = dead_letters
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        for message, error in batch.invalid:
            INVALID.labels(error.reason).inc()
            if self._dlq is not None:
                self._dlq.send(message, error)
            else:
                log.warning(
                    "replay.invalid_skipped",
                    reason=error.reason,
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                )
        if batch.invalid and self._dlq is not None:
            self._dlq.flush()
        self.next_step.submit(batch)


class TraceDimsCache:
    """Recently seen traces' join dimensions, bounded; misses are looked up in ClickHouse."""

    def __init__(self, store: ClickHouseStore, capacity: int = 200_000) -> None:
        self._store = store
        self._capacity = capacity
        self._dims: OrderedDict[Key, TraceDims] = OrderedDict()

    def put(self, key: Key, dims: TraceDims) -> None:
        self._dims[key] = dims
        self._dims.move_to_end(key)
        if len(self._dims) > self._capacity:
            self._dims.popitem(last=False)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, TraceDims]:
        found: dict[Key, TraceDims] = {}
        missing = set()
        for key in keys:
            dims = self._dims.get(key)
            if dims is None:
                missing.add(key)
            else:
                found[key] = dims
        if missing:
            for key, dims in self._store.trace_dims(missing).items():
                self.put(key, dims)
                found[key] = dims
        return found


class Traces:
    """Latest report per trace wins: new traces are stored, re-reports replace (and move their
    ``responses`` count), stale or repeated reports are dropped. Events that waited for these
    traces are rejoined."""

    def __init__(self, store: ClickHouseStore, cache: TraceDimsCache, next_step: Step) -> None:
        self._store = store
        self._cache = cache
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        if batch.traces:
            self._store_traces(batch)
        self.next_step.submit(batch)

    def _store_traces(self, batch: Batch) -> None:
        latest: dict[Key, dict[str, Any]] = {}
        for trace in batch.traces:
            key = (trace["tenant_id"], trace["trace_id"])
            if key not in latest or trace_version(trace) > trace_version(latest[key]):
                latest[key] = trace
        stored = {(row[0], row[1]): row for row in self._store.stored_traces(latest)}
        for key, trace in latest.items():
            previous = stored.get(key)
            if previous is not None and previous[TRACE_INDEX["version"]] >= trace_version(trace):
                batch.duplicates += 1
                continue
            if previous is not None:
                batch.trace_rows.append(cancelled_trace_row(previous))
            batch.trace_rows.append(trace_row(trace))
            self._cache.put(key, TraceDims.of_trace(trace))
        # Every trace key of the batch, not only the new ones: a crash between storing a trace
        # and rejoining its events is mended when the batch is read again.
        waiting = self._store.unjoined_events(latest)
        if not waiting:
            return
        dims = self._cache.get_many(latest)
        tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
        for stored_event in waiting:
            found = dims.get((stored_event[tenant], stored_event[trace_id]))
            if found is not None:
                batch.event_rows.extend(rejoined_rows(stored_event, found))
                batch.rejoined += 1


class Events:
    """Drop events already stored (by tenant and event_id) or repeated in the batch; join the
    rest to their trace's dimensions when the trace is known."""

    def __init__(self, store: ClickHouseStore, cache: TraceDimsCache, next_step: Step) -> None:
        self._store = store
        self._cache = cache
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        if batch.events:
            self._store_events(batch)
        self.next_step.submit(batch)

    def _store_events(self, batch: Batch) -> None:
        unique: dict[Key, dict[str, Any]] = {}
        for event in batch.events:
            unique.setdefault((event["tenant_id"], event["event_id"]), event)
        stored = self._store.stored_event_ids(unique)
        fresh = [event for key, event in unique.items() if key not in stored]
        batch.duplicates += len(batch.events) - len(fresh)
        trace_keys = {(e["tenant_id"], e["trace_id"]) for e in fresh if e["trace_id"]}
        dims = self._cache.get_many(trace_keys) if trace_keys else {}
        for event in fresh:
            batch.event_rows.append(event_row(event, dims.get((event["tenant_id"], event["trace_id"] or ""))))


class Write:
    """Traces first (so a crash leaves events to be rejoined, never joined to nothing), then events."""

    def __init__(self, store: ClickHouseStore, next_step: Step) -> None:
        self._store = store
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        self._store.insert_traces(batch.trace_rows)
        self._store.insert_events(batch.event_rows)
        INSERTED.labels("traces").inc(len(batch.trace_rows))
        INSERTED.labels("events").inc(len(batch.event_rows))
        DUPLICATES.inc(batch.duplicates)
        self.next_step.submit(batch)


class Announce:
    """One ``chat.feedback.submitted`` OpenTelemetry event per explicit signal newly stored."""

    def __init__(self, telemetry: FeedbackTelemetry, next_step: Step) -> None:
        self._telemetry = telemetry
        self.next_step = next_step

    def submit(self, batch: Batch) -> None:
        if self._telemetry.enabled:
            kind, version = EVENT_INDEX["type"], EVENT_INDEX["version"]
            for row in batch.event_rows:
                if row[version] == 1 and row[kind] in EXPLICIT_TYPES:
                    self._telemetry.submitted(dict(zip(EVENT_COLUMNS, row, strict=True)))
        self.next_step.submit(batch)


class Commit:
    """Offsets are committed only after ClickHouse has the rows (and the DLQ its letters)."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def submit(self, batch: Batch) -> None:
        offsets = batch.next_offsets()
        if not offsets:
            return
        for tp in offsets:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - tp.offset))
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Lost the partitions meanwhile: the new owner reads these again, and dedupe drops them.
            log.warning(
                "worker.commit_failed",
                error=str(exc),
                offsets=[f"{o.topic}[{o.partition}]@{o.offset}" for o in offsets],
            )


def build_chain(
    store: ClickHouseStore,
    dead_letters: DeadLetters | None,
    subject_of_topic: Callable[[str], str],
    last_step: Step,
    registry: SchemaRegistry | None = None,
    telemetry: FeedbackTelemetry | None = None,
) -> Step:
    """The whole chain, built anew on every partition assignment; ``last_step`` commits."""
    cache = TraceDimsCache(store)
    written: Step = last_step if telemetry is None else Announce(telemetry, last_step)
    return Decode(
        subject_of_topic,
        DeadLetter(dead_letters, Traces(store, cache, Events(store, cache, Write(store, written)))),
        registry,
    )
