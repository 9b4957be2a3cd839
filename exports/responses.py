"""Responses with feedback, one row each: its trace, the current opinions and the other signals.

A response is a trace (``traces``, one row per trace_id); it is a candidate when at least one
feedback event points at it. Everything is computed by ClickHouse with bound parameters, in a
stable order: by a hash of (tenant, conversation), then tenant, conversation, turn and trace.

Memory stays flat however much feedback there is: the work is cut into slices of the hash range,
each a query of its own over about ``SLICE_EVENTS`` events, read one after the other. A slice
holds whole conversations (so a turn's attempts meet in one), and because the order starts with
the hash, the slices' rows concatenate into the same order whatever the number of slices. (An
event and its trace are expected to name the same conversation, as the contract's Kafka keys do.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from exports.filters import ExportFilters, format_time
from exports.opinions import current_opinions_sql

SIGNAL_TYPES = ("comment", "edit", "copy", "regenerate", "rephrase")

# Bounded memory inside the engine (embedded chdb shares our process): big aggregations, joins
# and sorts spill to disk instead of growing.
ENGINE_SETTINGS: dict[str, Any] = {
    "max_bytes_before_external_group_by": 100_000_000,
    "max_bytes_before_external_sort": 100_000_000,
    "join_algorithm": "full_sorting_merge",
    "max_block_size": 8192,
}
SLICE_EVENTS = 100_000
HASH_END = 2**64  # cityHash64 values are below this


@dataclass(frozen=True)
class Response:
    """One response (trace) with its feedback; the columns of ``responses_sql`` in order."""

    tenant_id: str
    trace_id: str
    has_trace: bool
    conversation_id: str
    message_id: str | None
    turn_key: str
    time: datetime
    input_text: str | None
    output_text: str | None
    model: str | None
    model_version: str | None
    prompt_version: str | None
    feature: str | None
    latency_ms: int | None
    tool_failed: bool | None
    doc_ids: list[str]
    thumbs_up: int
    thumbs_down: int
    ratings: list[int]
    reasons: list[str]
    comments: list[str]
    copies: int
    edits: int
    regenerates: int
    rephrases: int
    edited_text: str | None
    event_ids: list[str]
    annotations: list[dict[str, Any]]  # reviewers' current labels (annotation queues), by queue and annotator

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Response:
        values = dict(zip(COLUMN_NAMES, row, strict=True))
        values["has_trace"] = bool(values["has_trace"])
        values["time"] = values["time"].replace(tzinfo=UTC)  # the engine's times are UTC
        values["annotations"] = [
            {
                "queue": queue,
                "annotator": annotator,
                "label": label,
                "score": score,
                "reasons": list(reasons),
                "note": note,
                "time": format_time(ts.replace(tzinfo=UTC)),
            }
            for queue, annotator, label, score, reasons, note, ts in values["annotations"]
        ]
        return cls(**values)

    @property
    def thumb(self) -> str | None:
        """The majority of raters' current thumbs; a tie (or none) is no verdict."""
        if self.thumbs_up > self.thumbs_down:
            return "up"
        if self.thumbs_down > self.thumbs_up:
            return "down"
        return None

    @property
    def rating(self) -> float | None:
        """The mean of raters' current ratings."""
        return round(sum(self.ratings) / len(self.ratings), 3) if self.ratings else None

    @property
    def negative(self) -> bool:
        """A negative signal: a current thumb down, a current rating <= 2, an edit, a regenerate
        or a rephrase (from any rater)."""
        return bool(
            self.thumbs_down or any(r <= 2 for r in self.ratings) or self.edits or self.regenerates or self.rephrases
        )

    @property
    def rated_up(self) -> bool:
        """A current thumb up or a current rating >= 4 (from any rater)."""
        return bool(self.thumbs_up or any(r >= 4 for r in self.ratings))


COLUMN_NAMES = tuple(f.name for f in fields(Response))


CONVERSATION_HASH = "cityHash64(tenant_id, conversation_id)"


def _where_tenant(filters: ExportFilters) -> str:
    return "tenant_id = {tenant:String}" if filters.tenant else "1"


def responses_sql(filters: ExportFilters, first: int = 0, last: int = HASH_END - 1) -> tuple[str, dict[str, Any]]:
    """The SELECT of every candidate response matching ``filters`` whose conversation hashes into
    [first, last], in the module's order (a turn's attempts come together, for DPO pairs)."""
    tenant = f"{_where_tenant(filters)} AND {CONVERSATION_HASH} BETWEEN {{first:UInt64}} AND {{last:UInt64}}"
    parameters: dict[str, Any] = {"first": first, "last": last}
    conditions = []
    if filters.tenant:
        parameters["tenant"] = filters.tenant
    if filters.since:
        conditions.append("time >= {since:DateTime64(3, 'UTC')}")
        parameters["since"] = filters.since
    if filters.until:
        conditions.append("time < {until:DateTime64(3, 'UTC')}")
        parameters["until"] = filters.until
    for name in ("model_version", "prompt_version", "feature"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(f"has_trace AND t_{name} = {{{name}:String}}")
            parameters[name] = value
    where = " AND ".join(conditions) or "1"
    signal_types = ", ".join(f"'{t}'" for t in SIGNAL_TYPES)
    sql = f"""
SELECT
    tenant_id,
    trace_key AS trace_id,
    t_found = 1 AS has_trace,
    if(has_trace, t_conversation_id, if(o_found = 1, o_conversation_id, s_conversation_id)) AS conversation_id,
    coalesce(t_message_id, o_message_id, s_message_id) AS message_id,
    if(has_trace, coalesce(nullIf(t_turn_id, ''), t_message_id, concat('trace:', trace_key)), '') AS turn_key,
    multiIf(has_trace, t_timestamp, o_found = 1 AND s_found = 1, least(o_first_ts, s_first_ts),
            o_found = 1, o_first_ts, s_first_ts) AS time,
    t_input_text AS input_text,
    t_output_text AS output_text,
    t_model AS model,
    t_model_version AS model_version,
    t_prompt_version AS prompt_version,
    t_feature AS feature,
    t_latency_ms AS latency_ms,
    if(has_trace, t_tool_failed, NULL) AS tool_failed,
    t_doc_ids AS doc_ids,
    thumbs_up, thumbs_down, ratings, reasons,
    arrayMap(c -> tupleElement(c, 3), arraySort(arrayConcat(opinion_comments, signal_comments))) AS comments,
    copies, edits, regenerates, rephrases,
    if(last_edit_text = '', NULL, last_edit_text) AS edited_text,
    arraySort(arrayConcat(opinion_event_ids, signal_event_ids)) AS event_ids,
    a_annotations AS annotations
FROM
(
    SELECT
        tenant_id, trace_key,
        1 AS o_found,
        countIf(thumb = 'up') AS thumbs_up,
        countIf(thumb = 'down') AS thumbs_down,
        arraySort(groupArrayIf(assumeNotNull(rating), rating IS NOT NULL)) AS ratings,
        arraySort(arrayDistinct(arrayFlatten(groupArrayIf(thumb_reasons, thumb IS NOT NULL)))) AS reasons,
        arrayFilter(c -> tupleElement(c, 3) != '', arrayConcat(
            groupArrayIf(tuple(thumb_ts, thumb_event_id, thumb_comment), thumb IS NOT NULL),
            groupArrayIf(tuple(rating_ts, rating_event_id, rating_comment), rating IS NOT NULL))) AS opinion_comments,
        arrayConcat(groupArrayIf(thumb_event_id, thumb IS NOT NULL),
                    groupArrayIf(rating_event_id, rating IS NOT NULL)) AS opinion_event_ids,
        min(message_id) AS o_message_id,
        min(conversation_id) AS o_conversation_id,
        min(first_ts) AS o_first_ts
    FROM ({current_opinions_sql(tenant)})
    GROUP BY tenant_id, trace_key
) AS o
FULL OUTER JOIN
(
    SELECT
        tenant_id,
        ifNull(trace_id, '') AS trace_key,
        1 AS s_found,
        countIf(type = 'copy') AS copies,
        countIf(type = 'edit') AS edits,
        countIf(type = 'regenerate') AS regenerates,
        countIf(type = 'rephrase') AS rephrases,
        tupleElement(argMaxIf(tuple(ifNull(edited_text, ''), event_id), tuple(ts, event_id),
                              type = 'edit' AND ifNull(edited_text, '') != ''), 1) AS last_edit_text,
        groupArrayIf(tuple(ts, event_id, ifNull(comment, '')), type = 'comment' AND ifNull(comment, '') != '')
            AS signal_comments,
        groupArray(event_id) AS signal_event_ids,
        min(message_id) AS s_message_id,
        min(conversation_id) AS s_conversation_id,
        min(ts) AS s_first_ts
    FROM events
    WHERE type IN ({signal_types}) AND trace_id IS NOT NULL AND ({tenant})
    GROUP BY tenant_id, trace_key
) AS s
USING (tenant_id, trace_key)
LEFT JOIN
(
    SELECT
        tenant_id,
        trace_id AS trace_key,
        1 AS t_found,
        conversation_id AS t_conversation_id,
        message_id AS t_message_id,
        turn_id AS t_turn_id,
        timestamp AS t_timestamp,
        input_text AS t_input_text,
        output_text AS t_output_text,
        model AS t_model,
        model_version AS t_model_version,
        prompt_version AS t_prompt_version,
        feature AS t_feature,
        latency_ms AS t_latency_ms,
        tool_failed AS t_tool_failed,
        retrieval.doc_ids AS t_doc_ids
    FROM traces
    WHERE {tenant}
) AS t
USING (tenant_id, trace_key)
LEFT JOIN
(
    -- reviewers' current labels on the response, from every queue that holds it
    SELECT
        tenant_id,
        trace_key,
        arraySort(groupArray(tuple(queue, annotator, label, score, reasons, note, ts))) AS a_annotations
    FROM
    (
        SELECT a.tenant_id AS tenant_id, q.trace_id AS trace_key, a.queue AS queue, a.annotator AS annotator,
               a.label AS label, a.score AS score, a.reasons AS reasons, a.note AS note, a.ts AS ts
        FROM annotations AS a
        INNER JOIN annotation_queue AS q ON q.tenant_id = a.tenant_id AND q.queue = a.queue AND q.item_id = a.item_id
        WHERE {_where_tenant(filters).replace("tenant_id", "a.tenant_id")}
    )
    GROUP BY tenant_id, trace_key
) AS a
USING (tenant_id, trace_key)
WHERE {where}
ORDER BY cityHash64(tenant_id, conversation_id), tenant_id, conversation_id, turn_key, trace_id
"""
    return sql, parameters


def count_responses(client: Client, filters: ExportFilters) -> int:
    sql, parameters = responses_sql(filters)
    result = client.query(f"SELECT count() FROM ({sql})", parameters=parameters, settings=ENGINE_SETTINGS)
    return int(result.result_rows[0][0])


def slices(client: Client, filters: ExportFilters) -> list[tuple[int, int]]:
    """Hash ranges of about ``SLICE_EVENTS`` events each (a cheap estimate: the order of the rows
    does not depend on it)."""
    sql = "SELECT count() FROM events_log WHERE sign = 1 AND " + _where_tenant(filters)
    events = int(client.query(sql, parameters={"tenant": filters.tenant} if filters.tenant else None).result_rows[0][0])
    count = max(1, -(-events // SLICE_EVENTS))
    bounds = [HASH_END * i // count for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]


def stream_responses(client: Client, filters: ExportFilters) -> Iterator[Response]:
    """Every candidate response, in order, one slice after the other, each streamed by blocks."""
    for first, last in slices(client, filters):
        sql, parameters = responses_sql(filters, first, last)
        with client.query_rows_stream(sql, parameters=parameters, settings=ENGINE_SETTINGS) as rows:
            for row in rows:
                yield Response.from_row(row)
