"""The rule that keeps counts exact on a ClickHouse cluster, checked on what the worker really writes:
rows that a Collapsing or Replacing engine merges together (equal sorting keys: a row and its cancel
row) always have the same sharding key (runtime/cluster_ddl.py), so they always land on one shard,
where FINAL and the signed sums see them together. Run on one engine: the rows are the cluster's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtime.cluster_ddl import ClusterDDL
from runtime.migrations import bundled_migrations
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _sharding(database: str) -> dict[str, str]:
    ddl = ClusterDDL("any", database)
    for migration in bundled_migrations():
        for statement in migration.statements(database):
            ddl.rewrite(statement)
    return {name.split(".", 1)[1]: expression for name, expression in ddl.sharding.items()}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
def merges_stopped(pipeline: RunningPipeline) -> Iterator[dict[str, str]]:
    """The sharding expression of every table, whose background merges are stopped meanwhile: a merge
    collapses a row and its cancel row, the very pairs this test looks for (in the full suite, where
    the engine has parts to merge, a rejoin's cancel row was once merged away before the test saw it)."""
    db = pipeline.settings.clickhouse_database
    sharding = _sharding(db)
    for table in sharding:
        pipeline.client.command(f"SYSTEM STOP MERGES {db}.{table}")
    try:
        yield sharding
    finally:
        for table in sharding:
            pipeline.client.command(f"SYSTEM START MERGES {db}.{table}")


def test_rows_that_cancel_each_other_share_a_shard(pipeline: RunningPipeline, merges_stopped: dict[str, str]) -> None:
    db = pipeline.settings.clickhouse_database
    conversation, trace_id, message = new_id("conv-"), new_id("trace-"), new_id("msg-")
    user = new_id("user-")
    now = datetime.now(UTC)
    signal: dict[str, Any] = {"conversation_id": conversation, "trace_id": trace_id, "message_id": message}
    # a thumb before its trace: stored unjoined, then rejoined (a cancel row and the joined row)
    first = event("thumbs", value="up", reasons=[], user_id=user, timestamp=_ms(now - timedelta(seconds=30)), **signal)
    assert pipeline.post("/v1/events", {"events": [first]}).status_code == 202
    pipeline.wait_rows(f"SELECT 1 FROM {db}.events_log WHERE event_id = {{e:String}}", 1, e=first["event_id"])
    assert pipeline.post("/v1/traces", {"traces": [trace(trace_id, conversation)]}, key="secret").status_code == 202
    # (60 s, as the waits below: the shared worker may still be busy with earlier tests' messages; a
    # fresh-clone run once needed more than 30)
    cancelled = f"SELECT 1 FROM {db}.events_log WHERE event_id = {{e:String}} AND sign = -1"
    pipeline.wait_rows(cancelled, 1, timeout_s=60, e=first["event_id"])
    # the rater changes their mind (the opinion's cancel row and the new one), and the backend
    # reports the trace again (the report's cancel row and the new one)
    second = event("thumbs", value="down", user_id=user, timestamp=_ms(now), **signal)
    assert pipeline.post("/v1/events", {"events": [second]}).status_code == 202
    again = trace(trace_id, conversation, model="gpt-test-2")
    assert pipeline.post("/v1/traces", {"traces": [again]}, key="secret").status_code == 202
    for table, column, value in (("opinions_log", "message_id", message), ("traces_log", "trace_id", trace_id)):
        sql = f"SELECT 1 FROM {db}.{table} WHERE {column} = {{v:String}} AND sign = -1"
        pipeline.wait_rows(sql, 1, timeout_s=60, v=value)

    sharding = merges_stopped
    assert {"events_log", "traces_log", "opinions_log", "score_models", "alerts"} <= set(sharding)
    for table, expression in sharding.items():
        (sorting_key,) = pipeline.rows(
            "SELECT sorting_key FROM system.tables WHERE database = {d:String} AND name = {t:String}", d=db, t=table
        )[0]
        split = pipeline.rows(
            f"SELECT {sorting_key}, uniqExact({expression}) AS shards FROM {db}.{table} "
            f"GROUP BY {sorting_key} HAVING shards > 1 LIMIT 5"
        )
        assert split == [], f"{table}: rows of one sorting key would land on different shards: {split}"
