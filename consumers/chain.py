"""What every step of the worker's chain is."""

from __future__ import annotations

from typing import Protocol

from consumers.batch import Batch


class Step(Protocol):
    def submit(self, batch: Batch) -> None: ...
