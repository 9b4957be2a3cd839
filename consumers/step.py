"""What every step of the worker's chain is, and the shape the traces and events steps share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from confluent_kafka import Message

from consumers.batch import Batch
from consumers.bulk import BulkRefused
from consumers.frames import Framed
from consumers.metrics import ERASED
from consumers.outcome import NOTHING, Outcome, Written

if TYPE_CHECKING:
    from consumers.dlq import DeadLetterSink
    from consumers.store import ClickHouseStore
    from consumers.trace_dims_cache import TraceDimsCache
    from schemas.serde import AvroDecoder

log = structlog.get_logger(__name__)


class Step(Protocol):
    def submit(self, batch: Batch) -> Outcome:
        """Do this step's job with the batch, hand it on; what this step and the ones after it did."""
        ...


class BulkWriter(Protocol):
    def write(self, framed: list[Framed]) -> Written:
        """Store the framed messages; what was stored, and the records announcing the explicit
        events stored (if asked to: ``consumers.announcements``)."""
        ...


class FastPathStep(ABC):
    """Writes a batch's framed messages of one kind in SQL when it can (``bulk``), and one by one
    when it must (no fast path, or ClickHouse refused the batch)."""

    kind = ""  # what it stores: "events" or "traces"

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
    def one_by_one(self, batch: Batch) -> Outcome:
        """The slow path: decode and store the batch's messages of this kind each on its own."""

    def submit(self, batch: Batch) -> Outcome:
        frames = self.frames(batch)
        done = NOTHING
        if frames:
            fast = self._store_fast(batch, frames)
            if isinstance(fast, Outcome):
                done = fast
            else:
                log.info("worker.slow_path", kind=self.kind, reason=fast[:300], messages=len(frames))
                done = self.one_by_one(batch)
        return done + self.next_step.submit(batch)

    def _store_fast(self, batch: Batch, frames: list[tuple[Message, Framed]]) -> Outcome | str:
        """Stores the frames in SQL and says what it did, else why the slow path must."""
        if self._bulk is None:
            return "no fast path here (the rows are needed in Python)"
        try:
            written = self._bulk.write([framed for _, framed in frames])
        except BulkRefused as refused:
            return str(refused)
        batch.announced.extend(written.announced)
        dropped_erased(self.kind, written.erased)
        # Every message of the batch was valid (else the batch was refused): what was neither
        # stored nor an erased user's was stored before, or repeated within the batch.
        stored, erased = written.stored, written.erased
        duplicates = len(frames) - stored - erased
        if self.kind == "events":
            return Outcome(events=stored, duplicates=duplicates, erased=erased)
        return Outcome(traces=stored, duplicates=duplicates, rejoined=written.rejoined, erased=erased)


def without_erased(
    store: ClickHouseStore, kind: str, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The decoded records but those of erased users (``consumers.erased``), and how many were
    dropped (counted: not errors, not dead letters)."""
    kept = store.without_erased(records)
    dropped_erased(kind, len(records) - len(kept))
    return kept, len(records) - len(kept)


def dropped_erased(kind: str, count: int) -> None:
    """Count the events or traces of erased users a step dropped: not errors, not dead letters."""
    if count:
        ERASED.labels(kind).inc(count)
        log.info("worker.erased_dropped", kind=kind, messages=count)
