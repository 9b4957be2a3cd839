"""The live report of each trace in ``traces_log``, read without FINAL.

Every report of a trace is a +1 row, and a newer report always has a higher version (its receipt
time in ms) and comes with the cancel row of the one it replaces. So a trace's live report is its +1
row of the highest version: the +1 rows sorted by version, descending, the first of each trace. That
reads only the rows asked for, where FINAL would merge every part's rows of the granules read
(``traces_log`` sorts by time first, sql/0033, so a lookup by id touches granules of many parts).
"""

from __future__ import annotations

BY_TRACE = "by_trace"  # traces_log's projection sorted by tenant and trace_id (sql/0033)


def live_traces(table: str, columns: str, where: str) -> str:
    """``SELECT columns`` of the live report of each trace of ``table`` matching ``where``."""
    return (
        f"SELECT {columns} FROM {table} WHERE sign = 1 AND ({where}) "
        "ORDER BY version DESC LIMIT 1 BY tenant_id, trace_id"
    )


def by_trace_source(database: str, distributed: bool) -> tuple[str, int]:
    """Where to look traces up by trace_id alone (``FROM`` of the lookup), and whether that lookup
    lets ClickHouse weigh projections (``optimize_use_projections``).

    On one server: the ``by_trace`` projection itself, read directly. Asked of the table, ClickHouse
    analyses the table's own sort key (time first) for the ids before it picks the projection, and
    that costs more than the lookup: 290 against 37 ms for 130 ids among 26M traces. Every part of
    ``traces_log`` holds the projection: inserts write it, merges rebuild it
    (``deduplicate_merge_projection_mode``), and so do erasure's and retention's rewrites (tested).
    On a cluster (``distributed``: ``traces_log`` is a Distributed table) there is no projection to
    read through it: the shards pick ``by_trace`` themselves."""
    if distributed:
        return f"{database}.traces_log", 1
    return f"mergeTreeProjection({database}, traces_log, {BY_TRACE})", 0
