"""Retention: personal data is kept ``FEEDBACK_RETENTION_DAYS`` (docs/contract.md §2), as a ClickHouse
TTL on every table of ``runtime.personal_data``, counted from each table's ``kept_from`` time.

Applied by every migrate (``runtime.migrations.migrate``), after the migrations, so changing the
setting and running ``feedback migrate`` (or restarting ``feedback up``) changes the TTL. A table is
altered only when its TTL differs from the wanted one: ``MODIFY TTL`` recomputes the TTL of every
stored part, which is worth doing when the setting changed, not on every start. ``0`` removes the
TTL (keep for ever).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import structlog
from clickhouse_connect.driver.client import Client

from runtime.cluster_ddl import LOCAL_SUFFIX, rows_target
from runtime.personal_data import PERSONAL_TABLES, PersonalTable

log = structlog.get_logger(__name__)

DEFAULT_RETENTION_DAYS = 400
# How ClickHouse shows a table's TTL in its CREATE statement (system.tables.create_table_query).
SHOWN_TTL = re.compile(r"\bTTL (.+?)(?: SETTINGS |$)", re.DOTALL)


def ttl_expression(table: PersonalTable, days: int) -> str:
    """The TTL of ``table`` as ClickHouse writes it back, so the stored one can be compared."""
    return f"toDateTime({table.kept_from}) + toIntervalDay({int(days)})"


def ttl_statement(database: str, table: PersonalTable, days: int, cluster: str | None = None) -> str:
    """``ALTER TABLE … MODIFY TTL`` for ``days`` > 0, ``REMOVE TTL`` for 0. On a cluster, of every
    shard's local table (the Distributed table holds no rows)."""
    if days < 0:
        raise ValueError(f"FEEDBACK_RETENTION_DAYS: must be 0 (keep for ever) or more, got {days}")
    target = rows_target(database, table.name, cluster)
    if days == 0:
        return f"ALTER TABLE {target} REMOVE TTL"
    return f"ALTER TABLE {target} MODIFY TTL {ttl_expression(table, days)}"


def current_ttl(create_query: str) -> str | None:
    """The TTL expression of a ``CREATE TABLE`` statement as ClickHouse shows it, if it has one."""
    # the table's TTL clause follows ORDER BY (column TTLs sit inside the column list, before it)
    tail = create_query.rsplit("ORDER BY", 1)[-1]
    found = SHOWN_TTL.search(tail)
    return found.group(1).strip() if found else None


def retention_statements(
    database: str, days: int, current: Mapping[str, str | None], cluster: str | None = None
) -> list[str]:
    """The statements that bring every personal table to ``days`` of retention, given each table's
    ``current`` TTL (None: none); tables already there need none."""
    statements = []
    for table in PERSONAL_TABLES:
        wanted = ttl_expression(table, days) if days > 0 else None
        if table.name not in current:
            raise KeyError(f"table {database}.{table.name} (personal data) does not exist")
        if current[table.name] != wanted:
            statements.append(ttl_statement(database, table, days, cluster))
    return statements


def apply_retention(client: Client, database: str, days: int, cluster: str | None = None) -> list[str]:
    """Set the TTL of every personal table to ``days``; returns the statements it ran. On a cluster,
    the TTL lives on the local tables (as the server reached shows them)."""
    suffix = LOCAL_SUFFIX if cluster is not None else ""
    names = [table.name + suffix for table in PERSONAL_TABLES]
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables "
        "WHERE database = {db:String} AND name IN {names:Array(String)}",
        parameters={"db": database, "names": names},
    ).result_rows
    current = {str(name).removesuffix(suffix) if suffix else str(name): current_ttl(str(query)) for name, query in rows}
    statements = retention_statements(database, days, current, cluster)
    for statement in statements:
        client.command(statement)
        log.info("retention.set", database=database, statement=statement)
    return statements
