"""A fake ClickHouse store for the worker's steps (arroyo style): rows kept in dicts, the same
answers as ``consumers.store.ClickHouseStore``, so each step's rules can be read and tested
without services. The real store is what the integration tests exercise."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Message

from consumers.batch import Batch
from consumers.dlq import DeadLetterSink
from consumers.erased import ErasedIds, is_erased
from consumers.errors import InvalidMessage, RowsRefused
from consumers.events_step import Events
from consumers.rows import EVENT_INDEX, TRACE_COLUMNS, TRACE_INDEX, Row, TraceDims
from consumers.step import Step
from consumers.steps import DeadLetter, Decode, Done
from consumers.store import ClickHouseStore, Key
from consumers.trace_dims_cache import TraceDimsCache
from consumers.traces_step import Traces
from producers.app import message_key
from producers.intake import accept_events, accept_traces
from schemas.serde import AvroDecoder, AvroEncoder
from tests.helpers import event, trace

TENANT = "acme"
SIGN, VERSION, JOINED = EVENT_INDEX["sign"], EVENT_INDEX["version"], EVENT_INDEX["trace_joined"]


class FakeStore(ClickHouseStore):
    """``events_log`` and ``traces_log`` as their current rows (what FINAL reads), plus every row
    inserted (what the log tables hold)."""

    def __init__(self) -> None:  # no client: nothing here talks to ClickHouse
        self.database = "fake"
        self.events: dict[Key, Row] = {}
        self.traces: dict[Key, Row] = {}
        self.event_rows: list[Row] = []
        self.trace_rows: list[Row] = []
        self.opinions: list[Key] = []  # events whose opinions were recorded (record_opinions)
        self.mended: list[Key] = []  # traces whose waiting opinions were moved (mend_opinions)
        self.refuse: set[str] = set()  # ids whose rows ClickHouse refuses (a value it cannot store)
        self.erased: ErasedIds = set()  # (tenant_id, kind, id) of erased users (erased_ids)
        self.superseding: list[Key] = []  # events whose derived signals were checked (supersede_derived)

    def stored_event_ids(self, keys: Iterable[Key]) -> set[Key]:
        return {key for key in keys if key in self.events}

    def stored_trace_versions(self, keys: Iterable[Key]) -> dict[Key, int]:
        return {key: self.traces[key][TRACE_INDEX["version"]] for key in keys if key in self.traces}

    def stored_traces(self, keys: Iterable[Key]) -> list[Row]:
        return [list(self.traces[key]) for key in keys if key in self.traces]

    def trace_dims(self, keys: Iterable[Key]) -> dict[Key, TraceDims]:
        return {key: TraceDims.of_trace(_trace_of(self.traces[key])) for key in keys if key in self.traces}

    def unjoined_events(self, trace_keys: Iterable[Key]) -> list[Row]:
        wanted = set(trace_keys)
        tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
        return [list(row) for row in self.events.values() if not row[JOINED] and (row[tenant], row[trace_id]) in wanted]

    def insert_events(self, rows: list[Row]) -> None:
        self._refuse_any(rows)
        for row in rows:
            self.event_rows.append(row)
            if row[SIGN] == 1:
                self.events[(row[0], row[1])] = row

    def insert_traces(self, rows: list[Row]) -> None:
        self._refuse_any(rows)
        for row in rows:
            self.trace_rows.append(row)
            if row[TRACE_INDEX["sign"]] == 1:
                self.traces[(row[0], row[1])] = row

    def record_opinions(self, event_keys: Iterable[Key]) -> None:
        self.opinions.extend(event_keys)

    def mend_opinions(self, trace_keys: Iterable[Key]) -> None:
        self.mended.extend(trace_keys)

    def supersede_derived(self, event_keys: Iterable[Key]) -> None:
        self.superseding.extend(event_keys)

    def without_erased(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [record for record in records if not is_erased(record, self.erased)]

    def announcements(self, keys: Iterable[Key]) -> list[str]:
        return [f"record of {event_id}" for _, event_id in keys]

    def _refuse_any(self, rows: list[Row]) -> None:
        refused = [row[1] for row in rows if row[1] in self.refuse]
        if refused:
            raise RowsRefused(f"Code: 70. cannot store a value of {refused}")


def _trace_of(row: Row) -> dict[str, Any]:
    """A stored trace row back as the record's fields (what its dimensions are computed from)."""
    record = dict(zip(TRACE_COLUMNS, row, strict=True))
    doc_ids, scores, chunks, citations = record["retrieval"]
    record["retrieval"] = {"doc_ids": doc_ids, "scores": scores, "chunk_count": chunks, "citations_shown": citations}
    record["tools"] = [
        {"name": name, "success": success, "latency_ms": latency, "error": error}
        for name, success, latency, error in record["tools"]
    ]
    return record


class RecordingSink(DeadLetterSink):
    """The DLQ as a list."""

    def __init__(self) -> None:
        super().__init__(None)
        self.letters: list[tuple[Message, InvalidMessage]] = []

    def send(self, invalid: list[tuple[Message, InvalidMessage]]) -> None:
        self.letters.extend(invalid)

    def reasons(self) -> list[str]:
        return [error.reason for _, error in self.letters]


class Topic:
    """Messages as the collector writes them (validated, Avro with the schema header), with offsets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.offset = 0

    def message(self, value: bytes, key: bytes = b"acme/c") -> Message:
        self.offset += 1
        return Message(topic=self.name, partition=0, offset=self.offset - 1, value=value, key=key)

    def events(self, *events: dict[str, Any], tenant: str = TENANT) -> list[Message]:
        records = accept_events(list(events), None, tenant, int(time.time() * 1000)).records
        assert len(records) == len(events), "invalid test events"
        encoder = AvroEncoder("event")
        return [self.message(encoder.encode(record), message_key(record)) for record in records]

    def traces(self, *traces: dict[str, Any], tenant: str = TENANT, received_at: int | None = None) -> list[Message]:
        now = received_at or int(time.time() * 1000)
        records = accept_traces(list(traces), tenant, now).records
        assert len(records) == len(traces), "invalid test traces"
        encoder = AvroEncoder("trace")
        return [self.message(encoder.encode(record), message_key(record)) for record in records]


def batch_of(messages: list[Message]) -> Batch:
    return Batch(messages)


__all__ = ["TENANT", "FakeStore", "RecordingSink", "Topic", "batch_of", "event", "slow_chain", "trace"]


def slow_chain(store: FakeStore, sink: RecordingSink, announce: bool = False) -> tuple[Step, TraceDimsCache]:
    """The worker's chain with no fast path (every message one by one) over ``store``:
    decode → dead-letter → traces → events → done. Returns it and its trace dimensions cache."""
    cache = TraceDimsCache(store)
    decoders = {subject: AvroDecoder(subject) for subject in ("event", "trace")}
    events = Events(store, cache, decoders["event"], sink, None, Done())
    events.announce = announce
    traces = Traces(store, cache, decoders["trace"], sink, None, events)
    return Decode(lambda topic: "trace" if topic == "traces" else "event", decoders, DeadLetter(sink, traces)), cache
