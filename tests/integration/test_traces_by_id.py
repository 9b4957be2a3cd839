"""The worker looks traces up by id alone in traces_log's ``by_trace`` projection, read directly
(consumers.live_traces.by_trace_source): every part of the table must hold it, whatever rewrote
the part. A part without it would hide its traces from that lookup, and their events would wait
for a trace that is already stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from consumers.live_traces import BY_TRACE, by_trace_source
from feedback.erasure import Eraser
from runtime.migrations import migrate
from tests.helpers import new_id

TENANT = "by-trace"


def _insert_traces(client: Client, database: str, prefix: str, now: datetime, count: int) -> None:
    """``count`` traces of two users (odd numbers: ``u-erased``, in conversations of their own); one in
    five received 3 days ago."""
    at = now.strftime("%Y-%m-%d %H:%M:%S")
    received = f"toDateTime64('{at}', 3, 'UTC') - toIntervalDay(if(number % 5 = 0, 3, 0))"
    client.command(
        f"INSERT INTO {database}.traces_log (tenant_id, trace_id, conversation_id, received_at, timestamp, "
        "user_id, model, retrieval, version, sign) "
        f"SELECT '{TENANT}', concat('{prefix}-', toString(number)), concat('{prefix}-c', toString(number % 14)), "
        f"{received}, {received} - toIntervalMinute(number % 50), if(number % 2 = 1, 'u-erased', 'u-kept'), "
        f"'m-1', tuple([], [], NULL, NULL), 1, 1 FROM numbers({count})"
    )


def _parts_without_by_trace(client: Client, database: str) -> list[str]:
    return [
        row[0]
        for row in client.query(
            "SELECT name FROM system.parts WHERE database = {db:String} AND table = 'traces_log' AND active "
            "AND rows > 0 "
            "AND name NOT IN (SELECT parent_name FROM system.projection_parts WHERE database = {db:String} "
            "AND table = 'traces_log' AND name = {projection:String} AND active)",
            parameters={"db": database, "projection": BY_TRACE},
        ).result_rows
    ]


def _found_by_id(client: Client, database: str, ids: list[str]) -> int:
    source, projections = by_trace_source(database, direct=True)
    listed = ", ".join(f"'{trace_id}'" for trace_id in ids)
    return int(
        client.query(
            f"SELECT uniqExact(trace_id) FROM {source} WHERE tenant_id = '{TENANT}' AND trace_id IN ({listed}) "
            f"AND sign = 1 SETTINGS optimize_use_projections = {projections}"
        ).result_rows[0][0]
    )


@pytest.mark.clickhouse
def test_every_part_keeps_by_trace_through_erasure_retention_and_merges(clickhouse: Client) -> None:
    database = f"by_trace_{new_id()}"
    now = datetime.now(UTC)
    kept = [f"{prefix}-{i}" for prefix in ("a", "b") for i in range(300) if i % 2 == 0 and i % 5 != 0]
    try:
        migrate(clickhouse, database, retention_days=7)
        _insert_traces(clickhouse, database, "a", now, 300)
        _insert_traces(clickhouse, database, "b", now, 300)  # two parts of one partition

        Eraser(clickhouse, database).forget(TENANT, "u-erased", "test")  # a mutation rewrites both parts
        migrate(clickhouse, database, retention_days=2)  # the traces received 3 days ago expire
        clickhouse.command(f"OPTIMIZE TABLE {database}.traces_log FINAL")  # a merge, with the TTL's deletes

        assert _parts_without_by_trace(clickhouse, database) == []
        assert clickhouse.query(f"SELECT count() FROM {database}.traces_log").result_rows[0][0] == len(kept)
        assert _found_by_id(clickhouse, database, kept) == len(kept)
        assert _found_by_id(clickhouse, database, ["a-1", "b-3", "a-10", "b-20"]) == 0  # erased, expired
    finally:
        clickhouse.command(f"DROP DATABASE IF EXISTS {database}")
