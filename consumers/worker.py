"""The consume loop: batches from Kafka through the processing chain, retried on backpressure."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import structlog
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from consumers.batch import Batch
from consumers.chain import build_chain
from consumers.dlq import DeadLetters
from consumers.dlq_limit import DlqLimit, DlqLimitExceeded
from consumers.errors import Backpressure
from consumers.metrics import CONSUMED, RETRIES
from consumers.outcome import count
from consumers.step import Step
from consumers.steps import Commit
from consumers.store import ClickHouseStore
from consumers.write_locks import locks_of
from runtime.telemetry import FeedbackTelemetry
from schemas.registry import SchemaRegistry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BatchPolicy:
    """How much to gather before writing, and how to back off when a write cannot happen."""

    max_messages: int  # FEEDBACK_BATCH_MAX_MESSAGES
    max_wait_s: float  # FEEDBACK_BATCH_MAX_WAIT_S
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0


class Worker:
    """One consumer in a group; stops (after finishing its batch and committing) when ``stop`` is set."""

    def __init__(
        self,
        consumer_config: dict[str, object],
        topics: list[str],
        client: Client,
        database: str,
        dead_letters: DeadLetters,
        subject_of_topic: Callable[[str], str],
        policy: BatchPolicy,
        stop: threading.Event | None = None,
        registry: SchemaRegistry | None = None,
        telemetry: FeedbackTelemetry | None = None,
        dlq_limit: DlqLimit | None = None,
    ) -> None:
        self.topics = topics
        self.policy = policy
        self.stop = stop or threading.Event()
        self._consumer = Consumer(consumer_config)
        self._store = ClickHouseStore(client, database)
        self._locks = locks_of(database)
        self._dlq = dead_letters
        self._subject_of_topic = subject_of_topic
        self._registry = registry
        self._telemetry = telemetry
        self._dlq_limit = dlq_limit
        self._chain: Step = self._build_chain()
        self._pending: list[Message] = []
        self.log = log.bind(group=consumer_config.get("group.id"), topics=topics)

    def _build_chain(self) -> Step:
        return build_chain(
            self._store,
            self._dlq,
            self._subject_of_topic,
            Commit(self._consumer),
            self._registry,
            self._telemetry,
            self._dlq_limit,
        )

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._chain = self._build_chain()
        self.log.info("worker.assigned", partitions=[f"{p.topic}[{p.partition}]" for p in partitions])

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Batches are written between polls, so no write is in flight when this runs; messages
        # gathered for the next batch from revoked partitions are dropped: their new owner
        # reads them again from the committed offset.
        revoked = {(p.topic, p.partition) for p in partitions}
        self._pending = [m for m in self._pending if (m.topic(), m.partition()) not in revoked]
        self.log.info("worker.revoked", partitions=[f"{p.topic}[{p.partition}]" for p in partitions])

    def run(self) -> None:
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.log.info("worker.started")
        backoff = self.policy.backoff_s
        try:
            while not self.stop.is_set():
                messages = self._poll()
                if not messages:
                    continue
                batch = Batch(messages)
                began = time.monotonic()
                if self._dlq_limit is not None:
                    self._dlq_limit.consumed(len(messages))
                try:
                    # the shards of this batch, against a replay or rejoin of the same database
                    with self._locks.hold(batch.partitions()):
                        done = self._chain.submit(batch)
                except Backpressure as exc:
                    RETRIES.inc()
                    self.log.warning("worker.backpressure", error=str(exc), retry_in_s=backoff)
                    for position in batch.first_offsets():
                        self._consumer.seek(position)
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, self.policy.max_backoff_s)
                    continue
                except DlqLimitExceeded as exc:
                    self.log.error("worker.dlq_limit", error=str(exc))
                    raise
                except Exception:
                    self.log.exception("worker.crashed", messages=len(messages))
                    raise
                backoff = self.policy.backoff_s
                count(done)
                self.log.debug(
                    "worker.batch",
                    messages=len(messages),
                    seconds=round(time.monotonic() - began, 4),  # the growth bench's batch latency
                    **asdict(done),
                )
        finally:
            self._consumer.close()
            self.log.info("worker.stopped")

    def _poll(self) -> list[Message]:
        started = time.monotonic()
        self._pending = []
        while len(self._pending) < self.policy.max_messages and not self.stop.is_set():
            remaining = self.policy.max_wait_s - (time.monotonic() - started)
            if remaining <= 0:
                break
            for message in self._consumer.consume(self.policy.max_messages - len(self._pending), remaining):
                error = message.error()
                if error is None:
                    self._pending.append(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    self.log.warning("worker.consume_error", error=str(error))
        messages, self._pending = self._pending, []
        per_topic = Counter(str(message.topic()) for message in messages)
        for topic, consumed in per_topic.items():
            CONSUMED.labels(topic).inc(consumed)
        return messages
