"""One export against a ClickHouse client: responses streamed in, rows streamed out."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from clickhouse_connect.driver.client import Client

from exports.filters import ExportFilters
from exports.responses import Response, count_responses, stream_responses
from exports.rows import Kind, Skip, build
from exports.summary import Summary

Progress = Callable[[int], None]
PROGRESS_EVERY = 1000


def export_rows(
    client: Client,
    kind: Kind,
    filters: ExportFilters,
    summary: Summary,
    metadata: bool = True,
    on_progress: Progress | None = None,
) -> Generator[dict[str, Any], None, None]:
    """The rows of ``kind``, in a stable order; ``summary`` is filled in as they go. ``on_progress``
    gets the number of responses read since its last call."""

    def counted(responses: Iterator[Response]) -> Iterator[Response]:
        pending = 0
        for response in responses:
            summary.responses += 1
            pending += 1
            if on_progress is not None and pending >= PROGRESS_EVERY:
                on_progress(pending)
                pending = 0
            yield response
        if on_progress is not None and pending:
            on_progress(pending)

    for built in build(kind, counted(stream_responses(client, filters)), metadata):
        if isinstance(built, Skip):
            summary.skipped[built.reason] += 1
            continue
        summary.rows += 1
        summary.covers(built.times)
        yield built.data


def total_responses(client: Client, filters: ExportFilters) -> int:
    """How many responses the export reads (for a progress bar)."""
    return count_responses(client, filters)
