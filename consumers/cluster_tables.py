"""Whether the worker's tables are a cluster's: Distributed tables over each shard's own
(``runtime/cluster_ddl.py``). Two lookups read what a single server alone has, a projection read
directly (``consumers.live_traces``) and the rated messages' key-value table
(``consumers.opinions``), and take their cluster form there."""

from __future__ import annotations


def distributed_sql(database: str, table: str) -> str:
    """A query of one number: 1 if ``database.table`` is a Distributed table, else 0."""
    return (
        f"SELECT countIf(engine = 'Distributed') FROM system.tables WHERE database = '{database}' AND name = '{table}'"
    )
