"""Fill in trace dimensions of stored events whose trace arrived after them (``feedback rejoin``).

The worker does this by itself whenever a trace arrives; this sweep mends what was missed
(e.g. traces loaded by a replay into another database, or written while no worker ran).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from consumers.opinions import mend_sql
from consumers.rows import EVENT_INDEX, Row, rejoined_rows
from consumers.store import ClickHouseStore


def rejoin_all(client: Client, database: str, chunk: int = 10_000) -> int:
    """Rejoin every stored, unjoined event whose trace is stored. Returns how many were rejoined."""
    store = ClickHouseStore(client, database)
    tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
    total = 0
    while True:
        waiting = store.unjoined_with_trace(chunk)
        if not waiting:
            break
        dims = store.trace_dims({(row[tenant], row[trace_id]) for row in waiting})
        rows: list[Row] = []
        for row in waiting:
            found = dims.get((row[tenant], row[trace_id]))
            if found is not None:
                rows.extend(rejoined_rows(row, found))
        if not rows:
            break
        store.insert_events(rows)
        total += len(rows) // 2
    # and the current opinions still waiting for a stored trace (consumers/opinions.py)
    client.command(
        mend_sql(
            database,
            f"(SELECT tenant_id, trace_id FROM {database}.traces_log WHERE sign = 1)",
            f"(SELECT trace_id FROM {database}.traces_log WHERE sign = 1)",
        )
    )
    return total
