"""The worker's two failure signals, never mixed (arroyo's habit)."""

from __future__ import annotations


class WorkerError(Exception):
    """Base of the worker's errors."""


class InvalidMessage(WorkerError):
    """This message can never be stored as it is: it goes to the DLQ with the reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Backpressure(WorkerError):
    """A dependency (ClickHouse, the DLQ topic) cannot take the batch now: retry it later, commit nothing."""


class RowsRefused(WorkerError):
    """ClickHouse (or the client, serialising them) refused a value of these rows: the data is at
    fault, so retrying cannot help; the culprits are isolated and dead-lettered."""
