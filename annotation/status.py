"""``feedback annotate status``: per queue, what is queued, what is labelled, and how well the
annotators agree where two or more labelled one item (``agreement.py``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from annotation.agreement import Agreement, agreement


@dataclass(frozen=True)
class QueueStatus:
    tenant_id: str
    queue: str
    queued: int
    labelled: int  # items with at least one current label
    labels: int  # current labels (one per item and annotator)
    annotators: int
    agreement: Agreement

    def as_json(self) -> dict[str, Any]:
        a = self.agreement
        return {
            "tenant": self.tenant_id,
            "queue": self.queue,
            "queued": self.queued,
            "labelled": self.labelled,
            "labels": self.labels,
            "annotators": self.annotators,
            "agreement": {
                "items": a.items,
                "percent": a.percent,
                "fleiss_kappa": a.fleiss_kappa,
                "cohen_kappa": a.cohen_kappa,
            },
        }


def status(client: Client, tenant: str | None = None, queue: str | None = None) -> list[QueueStatus]:
    """Every queue (of ``tenant``, or every tenant; or just ``queue``), by tenant and name."""
    parameters = {"tenant": tenant or "", "queue": queue or ""}

    def where(alias: str = "") -> str:
        conditions = ["1"]
        if tenant:
            conditions.append(f"{alias}tenant_id = {{tenant:String}}")
        if queue:
            conditions.append(f"{alias}queue = {{queue:String}}")
        return " AND ".join(conditions)

    queued = client.query(
        f"SELECT tenant_id, queue, count() FROM annotation_queue WHERE {where()} GROUP BY tenant_id, queue",
        parameters=parameters,
    ).result_rows
    # Only labels of items the queue holds count (store.py refuses others; this keeps it so).
    current = client.query(
        f"""
        SELECT a.tenant_id, a.queue, a.item_id, a.annotator, a.label
        FROM annotations AS a
        WHERE {where("a.")}
          AND (a.tenant_id, a.queue, a.item_id) IN (SELECT tenant_id, queue, item_id FROM annotation_queue)
        ORDER BY a.tenant_id, a.queue, a.item_id, a.annotator
        """,
        parameters=parameters,
    ).result_rows
    labels: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for tenant_id, queue_name, item_id, annotator, label in current:
        labels[(tenant_id, queue_name)][item_id][annotator] = label
    result = []
    for tenant_id, queue_name, count in sorted((str(t), str(q), int(n)) for t, q, n in queued):
        by_item = labels.get((tenant_id, queue_name), {})
        result.append(
            QueueStatus(
                tenant_id,
                queue_name,
                int(count),
                len(by_item),
                sum(len(by) for by in by_item.values()),
                len({a for by in by_item.values() for a in by}),
                agreement(by_item),
            )
        )
    return result
