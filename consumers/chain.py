"""What every step of the worker's chain is, and the shape the traces and events steps share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import structlog
from confluent_kafka import Message

from consumers.batch import Batch
from consumers.bulk import BulkRefused, Framed
from consumers.metrics import INSERTED

if TYPE_CHECKING:
    from consumers.dlq import DeadLetterSink
    from consumers.store import ClickHouseStore
    from consumers.traces_step import TraceDimsCache
    from schemas.serde import AvroDecoder

log = structlog.get_logger(__name__)


class Step(Protocol):
    def submit(self, batch: Batch) -> None: ...


class BulkWriter(Protocol):
    def write(self, framed: list[Framed]) -> list[str]:
        """Store the framed messages; returns the records announcing the explicit events stored
        (if asked to: ``consumers.announcements``)."""
        ...


class FastPathStep:
    """Writes a batch's framed messages of one kind in SQL when it can (``bulk``), and one by one
    when it must (no fast path, or ClickHouse refused the batch)."""

    kind = ""  # the table the metrics name: "events" or "traces"

    def __init__(
        self,
        store: ClickHouseStore,
        cache: TraceDimsCache,
        decoder: AvroDecoder,
        sink: DeadLetterSink,
        bulk: BulkWriter | None,
        next_step: Step,
    ) -> None:
        self._store = store
        self._cache = cache
        self._decoder = decoder
        self._sink = sink
        self._bulk = bulk
        self.next_step = next_step

    def frames(self, batch: Batch) -> list[tuple[Message, Framed]]:
        raise NotImplementedError

    def one_by_one(self, batch: Batch) -> None:
        raise NotImplementedError

    def submit(self, batch: Batch) -> None:
        frames = self.frames(batch)
        if frames:
            try:
                if self._bulk is None:
                    raise BulkRefused("no fast path here (the rows are needed in Python)")
                batch.announced.extend(self._bulk.write([framed for _, framed in frames]))
                INSERTED.labels(self.kind).inc(len(frames))
            except BulkRefused as refused:
                log.info("worker.slow_path", kind=self.kind, reason=str(refused)[:300], messages=len(frames))
                self.one_by_one(batch)
        self.next_step.submit(batch)
