"""When ClickHouse refuses a value of a batch's rows, find exactly the culprits by bisection: the
rows of every other record are stored, the messages behind the culprits go to the DLQ.

Rows are grouped by record (tenant and id), so a record's cancel row and its next version stay
in one insert; a batch with one bad record among N costs about 2·log2(N) inserts.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from consumers.batch import Batch
from consumers.dlq import DeadLetterSink
from consumers.errors import InvalidMessage, RowsRefused
from consumers.rows import Row

log = structlog.get_logger(__name__)

REASON = "clickhouse-rejected"

Key = tuple[str, str]  # (tenant_id, id): the first two columns of events_log and traces_log rows


def insert_isolating(insert: Callable[[list[Row]], None], rows: list[Row]) -> dict[Key, str]:
    """Insert ``rows``; the records (by key) whose rows ClickHouse refused, with why. Every other
    record's rows are stored. Outages (Backpressure) propagate as they are."""
    groups: dict[Key, list[Row]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    refused: dict[Key, str] = {}

    def attempt(keys: list[Key]) -> None:
        try:
            insert([row for key in keys for row in groups[key]])
        except RowsRefused as exc:
            if len(keys) == 1:
                refused[keys[0]] = str(exc)
                return
            middle = len(keys) // 2
            attempt(keys[:middle])
            attempt(keys[middle:])

    if groups:
        attempt(list(groups))
    return refused


def store_isolating(
    batch: Batch, subject: str, insert: Callable[[list[Row]], None], rows: list[Row], sink: DeadLetterSink
) -> tuple[list[Row], int]:
    """``insert_isolating``, then the messages behind refused records dead-lettered; returns the
    rows that were stored and how many messages were dead-lettered."""
    refused = insert_isolating(insert, rows)
    if not refused:
        return rows, 0
    letters = []
    for (tenant, record_id), detail in refused.items():
        messages = batch.origin.get((subject, tenant, record_id), [])
        if not messages:
            # Rows the worker made of stored rows (a rejoin): nothing is lost, the stored row
            # stays as it was and `feedback rejoin` can try again.
            log.error("worker.rows_refused", subject=subject, tenant=tenant, id=record_id, detail=detail[:300])
        letters += [(message, InvalidMessage(REASON, detail)) for message in messages]
    sink.send(letters)
    return [row for row in rows if (row[0], row[1]) not in refused], len(letters)
