"""What a step of the worker's chain did with a batch: counts that mean the same on the fast
(SQL, ``consumers.bulk``) and the slow (one by one) paths, summed along the chain."""

from __future__ import annotations

from dataclasses import dataclass, fields

from consumers.metrics import DUPLICATES, INSERTED, REJOINED


@dataclass(frozen=True)
class Outcome:
    """``events`` and ``traces``: records newly stored (an event once per tenant and event_id; a
    trace's first report, or a newer one replacing it). ``duplicates``: records dropped because
    they were stored already or repeated within the batch (a stale trace report too).
    ``invalid``: messages dead-lettered (counted only, on a replay). ``rejoined``: stored events
    joined to a trace of this batch that arrived after them. ``erased``: events and traces of
    erased users dropped (``consumers.erased``): neither errors nor dead letters."""

    events: int = 0
    traces: int = 0
    duplicates: int = 0
    invalid: int = 0
    rejoined: int = 0
    erased: int = 0

    @property
    def stored(self) -> int:
        return self.events + self.traces

    def __add__(self, other: Outcome) -> Outcome:
        return Outcome(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Written:
    """What a fast-path writer stored of a batch's framed messages of one kind."""

    stored: int
    rejoined: int = 0
    erased: int = 0  # records of erased users dropped from the batch
    announced: tuple[str, ...] = ()  # records of the explicit events newly stored (if asked)


NOTHING = Outcome()


def count(outcome: Outcome) -> None:
    """The worker's metrics of a stored batch, from what its chain did (``consumers.metrics``).
    The DLQ counts its letters itself, by reason."""
    INSERTED.labels("events").inc(outcome.events)
    INSERTED.labels("traces").inc(outcome.traces)
    DUPLICATES.inc(outcome.duplicates)
    REJOINED.inc(outcome.rejoined)
