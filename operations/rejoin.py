"""Fill in trace dimensions of stored events whose trace arrived after them (``feedback rejoin``).

The worker does this by itself whenever a trace arrives; this sweep mends what was missed
(e.g. traces loaded by a replay into another database, or written while no worker ran).
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from consumers.opinions import mend_sql
from consumers.rows import EVENT_INDEX, Row, rejoined_rows
from consumers.store import ClickHouseStore
from consumers.write_locks import EVERY_SHARD, locks_of


def rejoin_all(client: Client, database: str, chunk: int = 10_000) -> int:
    """Rejoin every stored, unjoined event whose trace is stored. Returns how many were rejoined."""
    store = ClickHouseStore(client, database)
    locks = locks_of(database)
    total = 0
    while True:
        # Every shard, one chunk at a time: what is unjoined is read and rejoined with no other
        # writer between (another rejoin, or a worker rejoining as its trace arrives).
        with locks.hold(EVERY_SHARD):
            rejoined = _rejoin_chunk(store, chunk)
        if not rejoined:
            break
        total += rejoined
    # and the current opinions still waiting for a stored trace (consumers/opinions.py)
    with locks.hold(EVERY_SHARD):
        client.command(
            mend_sql(
                database,
                f"(SELECT tenant_id, trace_id FROM {database}.traces_log WHERE sign = 1)",
                f"(SELECT trace_id FROM {database}.traces_log WHERE sign = 1)",
            )
        )
    return total


def _rejoin_chunk(store: ClickHouseStore, chunk: int) -> int:
    tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
    waiting = store.unjoined_with_trace(chunk)
    if not waiting:
        return 0
    dims = store.trace_dims({(row[tenant], row[trace_id]) for row in waiting})
    rows: list[Row] = []
    for row in waiting:
        found = dims.get((row[tenant], row[trace_id]))
        if found is not None:
            rows.extend(rejoined_rows(row, found))
    store.insert_events(rows)
    return len(rows) // 2
