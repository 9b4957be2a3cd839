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


# Whether this server reads a projection directly (``mergeTreeProjection``; older servers lack it): 1 or 0.
READS_PROJECTIONS = "SELECT count() FROM system.table_functions WHERE name = 'mergeTreeProjection'"


def by_trace_source(database: str, direct: bool) -> tuple[str, int]:
    """Where to look traces up by trace_id alone (``FROM`` of the lookup), and whether that lookup
    lets ClickHouse weigh projections (``optimize_use_projections``).

    ``direct`` (one server that reads projections directly, ``READS_PROJECTIONS``): the ``by_trace``
    projection itself. Asked of the table, ClickHouse analyses the table's own sort key (time
    first) for the ids before it picks the projection, and that costs more than the lookup: 290
    against 37 ms for 130 ids among 26M traces. Every part of ``traces_log`` holds the projection:
    inserts write it, merges rebuild it (``deduplicate_merge_projection_mode``), and so do
    erasure's and retention's rewrites (tested). Otherwise the table, which picks ``by_trace``
    itself: on a cluster ``traces_log`` is a Distributed table, with no projection to read through
    it, and its shards do."""
    if direct:
        return f"mergeTreeProjection({database}, traces_log, {BY_TRACE})", 0
    return f"{database}.traces_log", 1
