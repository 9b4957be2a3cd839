"""Store reviewers' labels (``POST /v1/annotations`` and ``feedback annotate import``) in
``annotations_log``; the ``annotations`` view shows the latest per item and annotator.

A label is only taken for an item its queue holds (for the same tenant): a typo in a queue name or
an item id is refused with its reason rather than stored where nothing will ever read it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from producers.annotations import AnnotationRejection
from schemas.annotations import AnnotationIn

COLUMNS = (
    "tenant_id", "queue", "item_id", "annotator", "label", "score", "reasons", "note", "ts", "received_at",
    "received_via",
)  # fmt: skip


def _moment(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def queued_items(client: Client, tenant: str, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (queue, item_id) pairs the tenant's queues hold."""
    if not pairs:
        return set()
    queues = sorted({queue for queue, _ in pairs})
    items = sorted({item for _, item in pairs})
    result = client.query(
        "SELECT DISTINCT queue, item_id FROM annotation_queue_log "
        "WHERE tenant_id = {tenant:String} AND queue IN {queues:Array(String)} AND item_id IN {items:Array(String)}",
        parameters={"tenant": tenant, "queues": queues, "items": items},
    )
    return {(str(q), str(i)) for q, i in result.result_rows} & pairs


def store(
    client: Client, tenant: str, items: list[tuple[int, AnnotationIn]], received_at_ms: int, via: str
) -> list[AnnotationRejection]:
    """Insert the labels whose item is queued; the others come back refused."""
    known = queued_items(client, tenant, {(a.queue, a.item_id) for _, a in items})
    received = _moment(received_at_ms)
    rows: list[list[Any]] = []
    refused = []
    for index, a in items:
        if (a.queue, a.item_id) not in known:
            refused.append(AnnotationRejection(index, a.item_id, [f"item_id: not in queue {a.queue!r} of this tenant"]))
            continue
        ts = _moment(a.timestamp) if a.timestamp is not None else received
        rows.append(
            [tenant, a.queue, a.item_id, a.annotator, a.label, a.score, list(a.reasons), a.note, ts, received, via]
        )
    if rows:
        client.insert("annotations_log", rows, column_names=list(COLUMNS))
    return refused


class AnnotationStore:
    """The collector's ``AnnotationSink``: a ClickHouse client per call (the export endpoint does
    the same), connected to the feedback database."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._connect = connect

    def store(
        self, tenant: str, items: list[tuple[int, AnnotationIn]], received_at_ms: int, via: str
    ) -> list[AnnotationRejection]:
        client = self._connect()
        try:
            return store(client, tenant, items, received_at_ms, via)
        finally:
            client.close()
