"""The live report of each trace in ``traces_log``, read without FINAL.

Every report of a trace is a +1 row, and a newer report always has a higher version (its receipt
time in ms) and comes with the cancel row of the one it replaces. So a trace's live report is its +1
row of the highest version: the +1 rows sorted by version, descending, the first of each trace. That
reads only the rows asked for, where FINAL would merge every part's rows of the granules read
(``traces_log`` sorts by time first, sql/0033, so a lookup by id touches granules of many parts).
"""

from __future__ import annotations


def live_traces(table: str, columns: str, where: str) -> str:
    """``SELECT columns`` of the live report of each trace of ``table`` matching ``where``."""
    return (
        f"SELECT {columns} FROM {table} WHERE sign = 1 AND ({where}) "
        "ORDER BY version DESC LIMIT 1 BY tenant_id, trace_id"
    )
