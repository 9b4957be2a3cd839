"""Re-read a slice of a topic into ClickHouse, in a consumer group of its own, idempotently.

The same chain as the live worker stores what it reads (so dedupe and joins apply: replaying
twice changes no count); invalid messages are counted, not sent to the DLQ again. Each batch is
stored under the write locks of its partitions (``consumers.write_locks``), so a live worker of
this process never stores the same message at the same time; into the live database of a
ClickHouse server, while the live group runs, the slice goes through that group instead
(``operations.replay_forward``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from consumers.batch import Batch
from consumers.chain import build_chain
from consumers.outcome import Outcome, count
from consumers.steps import Done
from consumers.store import ClickHouseStore
from consumers.write_locks import locks_of
from operations.positions import Position, consume_range, resolve
from operations.replay_forward import forward, live_group_active
from runtime.kafka import consumer_config
from runtime.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class ReplayStats:
    """What a replay read and what became of it (the chain's ``Outcome``, summed over batches)."""

    messages: int = 0
    stored: int = 0  # events and trace reports newly stored
    duplicates: int = 0  # stored already, or repeated in the slice
    invalid: int = 0  # counted, not dead-lettered again
    rejoined: int = 0  # stored events joined to a trace of the slice that arrived after them
    erased: int = 0  # of erased users: dropped (consumers.erased)
    forwarded: int = 0  # copied back into the topic for the live workers (operations.replay_forward)

    def add(self, messages: int, done: Outcome) -> None:
        self.messages += messages
        self.stored += done.stored
        self.duplicates += done.duplicates
        self.invalid += done.invalid
        self.rejoined += done.rejoined
        self.erased += done.erased


@dataclass(frozen=True)
class Slice:
    topic: str
    start: dict[int, int]  # partition → first offset to read
    end: dict[int, int]  # partition → offset to stop before

    @property
    def total(self) -> int:
        return sum(max(0, self.end[p] - self.start[p]) for p in self.start)


def plan_slice(settings: Settings, topic: str, start: Position, end: Position | None, partition: int | None) -> Slice:
    consumer = Consumer(consumer_config(settings, f"feedback-replay-plan-{uuid.uuid4().hex[:8]}"))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise ValueError(f"--topic: no topic {topic!r} on {settings.kafka_bootstrap}")
        partitions = sorted(metadata.partitions)
        if partition is not None:
            if partition not in partitions:
                raise ValueError(f"--partition: {topic} has partitions {partitions[0]}..{partitions[-1]}")
            partitions = [partition]
        first = resolve(consumer, topic, partitions, start)
        last = (
            {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
            if end is None
            else resolve(consumer, topic, partitions, end)
        )
        return Slice(topic, first, last)
    finally:
        consumer.close()


def through_live_group(settings: Settings, database: str) -> bool:
    """Whether a replay into ``database`` must leave the writing to the live group: a ClickHouse
    server's live database while live workers (possibly in other processes) run."""
    embedded = settings.clickhouse().embedded
    return not embedded and database == settings.clickhouse_database and live_group_active(settings)


def replay(
    settings: Settings,
    client: Client,
    database: str,
    part: Slice,
    on_progress: Callable[[int], None] = lambda _n: None,
    batch_size: int = 5000,
) -> ReplayStats:
    stats = ReplayStats()
    if through_live_group(settings, database):
        stats.forwarded = forward(settings, part.topic, part.start, part.end, on_progress, batch_size)
        stats.messages = stats.forwarded
        log.info("replay.forwarded", topic=part.topic, messages=stats.forwarded, group=settings.worker_group)
        return stats
    store = ClickHouseStore(client, database)
    subject = settings.subject_of(part.topic)
    chain = build_chain(store, None, lambda _topic: subject, Done(), settings.registry())
    consumer = Consumer(consumer_config(settings, f"feedback-replay-{uuid.uuid4().hex[:12]}"))
    try:
        locks = locks_of(database)
        for messages in consume_range(consumer, part.topic, part.start, part.end, batch_size):
            batch = Batch(messages)
            with locks.hold(batch.partitions()):  # one writer per partition, live workers included
                done = chain.submit(batch)
            count(done)
            stats.add(len(messages), done)
            on_progress(len(messages))
        log.info(
            "replay.done",
            topic=part.topic,
            database=database,
            messages=stats.messages,
            stored=stats.stored,
            duplicates=stats.duplicates,
            rejoined=stats.rejoined,
            invalid=stats.invalid,
        )
        return stats
    finally:
        consumer.close()
