"""The chain's other steps, and how a fast-path step counts what SQL stored: the same numbers
as its slow path (duplicates are what was not stored of a batch ClickHouse accepted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, Message, TopicPartition

from consumers.batch import Batch
from consumers.bulk import BulkRefused
from consumers.events_step import Events
from consumers.frames import Framed
from consumers.outcome import Outcome, Written
from consumers.steps import Announce, Commit, Decode, Done
from consumers.trace_dims_cache import TraceDimsCache
from consumers.traces_step import Traces
from runtime.telemetry import FeedbackTelemetry
from schemas.serde import AvroDecoder
from tests.unit.consumers.fakes import FakeStore, RecordingSink, Topic, batch_of, event, slow_chain, trace


class FakeBulk:
    def __init__(self, written: Written | None) -> None:
        self.written = written  # None: ClickHouse refuses the batch
        self.framed: list[Framed] = []

    def write(self, framed: list[Framed]) -> Written:
        self.framed.extend(framed)
        if self.written is None:
            raise BulkRefused("a record breaks the contract")
        return self.written


def fast_events(store: FakeStore, bulk: FakeBulk) -> Events:
    return Events(store, TraceDimsCache(store), AvroDecoder("event"), RecordingSink(), bulk, Done())


def framed(messages: list[Message]) -> Batch:
    """A batch as the decode step leaves it."""
    batch = batch_of(messages)
    decoders = {subject: AvroDecoder(subject) for subject in ("event", "trace")}
    Decode(lambda topic: "trace" if topic == "traces" else "event", decoders, Done()).submit(batch)
    return batch


def framed_batch(*events: dict[str, Any]) -> Batch:
    return framed(Topic("explicit").events(*events))


def test_the_fast_path_counts_what_sql_did_not_store_as_duplicates() -> None:
    bulk = FakeBulk(Written(stored=2, announced=("r1",)))
    batch = framed_batch(event("copy"), event("copy"), event("copy"))
    assert fast_events(FakeStore(), bulk).submit(batch) == Outcome(events=2, duplicates=1)
    assert len(bulk.framed) == 3
    assert batch.announced == ["r1"]


def test_the_fast_path_of_traces_counts_rejoined_events() -> None:
    bulk = FakeBulk(Written(stored=1, rejoined=3))
    store = FakeStore()
    traces = Traces(store, TraceDimsCache(store), AvroDecoder("trace"), RecordingSink(), bulk, Done())
    batch = framed(Topic("traces").traces(trace("t-1", "c"), trace("t-1", "c")))
    assert traces.submit(batch) == Outcome(traces=1, duplicates=1, rejoined=3)


def test_a_refused_batch_takes_the_slow_path_with_the_same_counts() -> None:
    store = FakeStore()
    copy = event("copy")
    batch = framed_batch(copy, copy, event("copy"))
    assert fast_events(store, FakeBulk(None)).submit(batch) == Outcome(events=2, duplicates=1)
    assert len(store.events) == 2


def test_the_dead_letter_step_counts_what_decode_could_not_frame() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    explicit = Topic("explicit")
    assert chain.submit(batch_of([explicit.message(b""), explicit.message(b"\x00\x01")])) == Outcome(invalid=2)
    assert len(sink.letters) == 2


class FakeTelemetry(FeedbackTelemetry):
    def __init__(self) -> None:
        super().__init__("none")
        self.records: list[str] = []

    def submitted_many(self, records: Sequence[str]) -> None:
        self.records.extend(records)


def test_announce_hands_the_batch_records_to_telemetry() -> None:
    telemetry = FakeTelemetry()
    batch = batch_of([])
    batch.announced.extend(["a", "b"])
    assert Announce(telemetry, Done()).submit(batch) == Outcome()
    assert telemetry.records == ["a", "b"]


class FakeConsumer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.committed: list[tuple[str, int, int]] = []

    def get_watermark_offsets(self, _tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        return 0, 10

    def commit(self, offsets: list[TopicPartition], asynchronous: bool = True) -> None:
        if self.fail:
            raise KafkaException("lost the partitions")
        self.committed.extend((tp.topic, tp.partition, tp.offset) for tp in offsets)


def test_commit_is_one_past_each_partitions_last_message() -> None:
    consumer = FakeConsumer()
    explicit = Topic("explicit")
    messages = [explicit.message(b"x") for _ in range(3)]
    Commit(consumer).submit(batch_of(messages))  # type: ignore[arg-type]
    assert consumer.committed == [("explicit", 0, 3)]


def test_a_failed_commit_is_left_to_the_partitions_new_owner() -> None:
    """Its new owner reads the batch again, and dedupe drops it: no error here."""
    consumer = FakeConsumer(fail=True)
    assert Commit(consumer).submit(batch_of([Topic("explicit").message(b"x")])) == Outcome()  # type: ignore[arg-type]
