"""``feedback annotate export --queue NAME``: the queue's items as a labelling tool imports them,
one JSON object per line: the response (input, output, trace dimensions), what its users said
and did (current opinions and signals, as the eval export counts them) and the labels so far.
In queue order (added_at, then item_id): the same queue gives the same file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from exports.filters import format_time
from exports.opinions import current_opinions_sql
from exports.responses import ENGINE_SETTINGS

_ITEMS = """
SELECT
    q.tenant_id, q.queue, q.item_id, q.trace_id, q.message_id, q.conversation_id, q.strategy, q.stratum, q.added_at,
    t.input_text, t.output_text, t.model, t.model_version, t.prompt_version, t.feature,
    o.thumbs_up, o.thumbs_down, o.ratings, o.reasons, o.comments,
    s.copies, s.edits, s.regenerates, s.rephrases, s.comments, s.edited_text
FROM (SELECT * FROM annotation_queue WHERE {in_queue}) AS q
LEFT JOIN (SELECT * FROM traces WHERE {in_queue_traces}) AS t ON t.tenant_id = q.tenant_id AND t.trace_id = q.trace_id
LEFT JOIN
(
    SELECT
        tenant_id, trace_key,
        countIf(thumb = 'up') AS thumbs_up,
        countIf(thumb = 'down') AS thumbs_down,
        arraySort(groupArrayIf(assumeNotNull(rating), rating IS NOT NULL)) AS ratings,
        arraySort(arrayDistinct(arrayFlatten(groupArrayIf(thumb_reasons, thumb IS NOT NULL)))) AS reasons,
        arrayFilter(c -> c != '', arrayConcat(groupArrayIf(thumb_comment, thumb IS NOT NULL),
                                              groupArrayIf(rating_comment, rating IS NOT NULL))) AS comments
    FROM ({opinions})
    GROUP BY tenant_id, trace_key
) AS o ON o.tenant_id = q.tenant_id AND o.trace_key = q.trace_id
LEFT JOIN
(
    SELECT
        tenant_id,
        ifNull(trace_id, '') AS trace_key,
        countIf(type = 'copy') AS copies,
        countIf(type = 'edit') AS edits,
        countIf(type = 'regenerate') AS regenerates,
        countIf(type = 'rephrase') AS rephrases,
        arrayMap(c -> tupleElement(c, 2), arraySort(groupArrayIf(tuple(ts, ifNull(comment, '')),
                 type = 'comment' AND ifNull(comment, '') != ''))) AS comments,
        tupleElement(argMaxIf(tuple(ifNull(edited_text, ''), event_id), tuple(ts, event_id),
                              type = 'edit' AND ifNull(edited_text, '') != ''), 1) AS edited_text
    FROM events
    WHERE {in_queue_traces} AND type IN ('comment', 'edit', 'copy', 'regenerate', 'rephrase')
    GROUP BY tenant_id, trace_key
) AS s ON s.tenant_id = q.tenant_id AND s.trace_key = q.trace_id
ORDER BY q.added_at, q.item_id
"""

_LABELS = """
SELECT tenant_id, item_id, annotator, label, score, reasons, note, ts
FROM annotations
WHERE {in_queue}
ORDER BY tenant_id, item_id, annotator
"""


def _utc(moment: datetime) -> str:
    return format_time(moment.replace(tzinfo=UTC))


def label_json(
    annotator: str, label: str, score: float | None, reasons: list[str], note: str | None, ts: datetime
) -> dict[str, Any]:
    return {"annotator": annotator, "label": label, "score": score, "reasons": reasons, "note": note, "time": _utc(ts)}


def export_queue(client: Client, queue: str, tenant: str | None = None) -> Iterator[dict[str, Any]]:
    parameters: dict[str, Any] = {"queue": queue, "tenant": tenant or ""}
    in_queue = "queue = {queue:String}" + (" AND tenant_id = {tenant:String}" if tenant else "")
    in_queue_traces = f"(tenant_id, trace_id) IN (SELECT tenant_id, trace_id FROM annotation_queue WHERE {in_queue})"
    labels: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for tenant_id, item_id, *rest in client.query(_LABELS.format(in_queue=in_queue), parameters=parameters).result_rows:
        labels[(tenant_id, item_id)].append(label_json(*rest))
    sql = _ITEMS.format(
        in_queue=in_queue, in_queue_traces=in_queue_traces, opinions=current_opinions_sql(in_queue_traces)
    )
    with client.query_rows_stream(sql, parameters=parameters, settings=ENGINE_SETTINGS) as rows:
        for row in rows:
            yield _item(row, labels)


def _item(row: tuple[Any, ...], labels: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[str, Any]:
    (tenant_id, queue, item_id, trace_id, message_id, conversation_id, strategy, stratum, added_at,
     input_text, output_text, model, model_version, prompt_version, feature,
     thumbs_up, thumbs_down, ratings, reasons, opinion_comments,
     copies, edits, regenerates, rephrases, signal_comments, edited_text) = row  # fmt: skip
    return {
        "item_id": item_id,
        "queue": queue,
        "input": input_text,
        "output": output_text,
        "signals": {
            "thumbs_up": thumbs_up,
            "thumbs_down": thumbs_down,
            "ratings": list(ratings),
            "reasons": list(reasons),
            "comments": [*opinion_comments, *signal_comments],
            "copies": copies,
            "edits": edits,
            "regenerates": regenerates,
            "rephrases": rephrases,
            "edited_text": edited_text or None,
        },
        "labels": labels.get((tenant_id, item_id), []),
        "trace": {"model": model, "model_version": model_version, "prompt_version": prompt_version, "feature": feature},
        "sampled": {"strategy": strategy, "stratum": stratum, "added_at": _utc(added_at)},
        "lineage": {
            "tenant": tenant_id,
            "conversation_id": conversation_id,
            "trace_id": trace_id,
            "message_id": message_id,
        },
    }
