"""Dead letters: messages that can never be stored go to the ``dlq`` topic with why and whence."""

from __future__ import annotations

import time
from typing import Any

import structlog
from confluent_kafka import Message, Producer

from consumers.dlq_limit import DlqLimit
from consumers.errors import Backpressure, InvalidMessage
from consumers.metrics import INVALID

log = structlog.get_logger(__name__)

# Header names of a dead letter, read back by ``feedback dlq``.
REASON = "dlq.reason"
DETAIL = "dlq.detail"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"
FAILED_AT = "dlq.failed_at"


class DeadLetters:
    def __init__(self, producer_config: dict[str, Any], topic: str) -> None:
        self._producer = Producer(producer_config)
        self.topic = topic
        self._failed: list[str] = []

    def send(self, message: Message, error: InvalidMessage) -> None:
        headers: list[tuple[str, str | bytes | None]] = [
            (REASON, error.reason.encode()),
            (DETAIL, error.detail[:2000].encode()),
            (SOURCE_TOPIC, str(message.topic()).encode()),
            (SOURCE_PARTITION, str(message.partition()).encode()),
            (SOURCE_OFFSET, str(message.offset()).encode()),
            (FAILED_AT, str(time.time_ns() // 1_000_000).encode()),
        ]
        log.warning(
            "dlq.send",
            reason=error.reason,
            detail=error.detail[:200],
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
        )
        self._producer.produce(
            self.topic, message.value(), message.key(), headers=headers, on_delivery=self._on_delivery
        )

    def _on_delivery(self, err: Any, _msg: Message) -> None:
        if err is not None:
            self._failed.append(str(err))

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every dead letter is acknowledged; a failure holds the batch back (no commit)."""
        left = self._producer.flush(timeout_s)
        failed, self._failed = self._failed, []
        if left or failed:
            raise Backpressure(f"DLQ not acknowledged: {left} pending, failures {failed[:3]}")


class DeadLetterSink:
    """Where a step puts invalid messages: the DLQ (acknowledged before the batch may be
    committed), or, without one (a replay: its poison is in the DLQ already), the log. With a
    ``limit``, letters past it stop the worker before they are sent (``consumers.dlq_limit``)."""

    def __init__(self, dead_letters: DeadLetters | None, limit: DlqLimit | None = None) -> None:
        self._dlq = dead_letters
        self._limit = limit

    def send(self, invalid: list[tuple[Message, InvalidMessage]]) -> None:
        if self._limit is not None and self._dlq is not None:
            self._limit.check(len(invalid))
        for message, error in invalid:
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
        if invalid and self._dlq is not None:
            self._dlq.flush()
