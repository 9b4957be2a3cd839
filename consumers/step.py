"""What every step of the worker's chain is, and the shape the traces and events steps share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Protocol

import structlog
from confluent_kafka import Message

from consumers.batch import Batch
from consumers.bulk import BulkRefused
from consumers.frames import Framed
from consumers.metrics import ERASED, INSERTED

if TYPE_CHECKING:
    from consumers.dlq import DeadLetterSink
    from consumers.store import ClickHouseStore
    from consumers.trace_dims_cache import TraceDimsCache
    from schemas.serde import AvroDecoder

log = structlog.get_logger(__name__)


class Step(Protocol):
    def submit(self, batch: Batch) -> None: ...


class BulkWriter(Protocol):
    @property
    def erased(self) -> int:
        """Messages of erased users the last ``write`` dropped (``consumers.erased``)."""
        ...

    def write(self, framed: list[Framed]) -> list[str]:
        """Store the framed messages; returns the records announcing the explicit events stored
        (if asked to: ``consumers.announcements``)."""
        ...


class FastPathStep(ABC):
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

    @abstractmethod
    def frames(self, batch: Batch) -> list[tuple[Message, Framed]]:
        """The batch's framed messages of this step's kind."""

    @abstractmethod
    def one_by_one(self, batch: Batch) -> None:
        """The slow path: decode and store the batch's messages of this kind each on its own."""

    def submit(self, batch: Batch) -> None:
        frames = self.frames(batch)
        if frames:
            refused = self._store_fast(batch, frames)
            if refused is not None:
                log.info("worker.slow_path", kind=self.kind, reason=refused[:300], messages=len(frames))
                self.one_by_one(batch)
        self.next_step.submit(batch)

    def _store_fast(self, batch: Batch, frames: list[tuple[Message, Framed]]) -> str | None:
        """Stores the frames in SQL; None when it did, else why the slow path must."""
        if self._bulk is None:
            return "no fast path here (the rows are needed in Python)"
        try:
            batch.announced.extend(self._bulk.write([framed for _, framed in frames]))
        except BulkRefused as refused:
            return str(refused)
        erased = self._bulk.erased
        dropped_erased(batch, self.kind, erased)
        INSERTED.labels(self.kind).inc(len(frames) - erased)
        return None


def dropped_erased(batch: Batch, kind: str, count: int) -> None:
    """Count the events or traces of erased users a step dropped: not errors, not dead letters."""
    if count:
        batch.erased += count
        ERASED.labels(kind).inc(count)
        log.info("worker.erased_dropped", kind=kind, messages=count)
