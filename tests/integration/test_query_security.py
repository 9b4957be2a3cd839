"""``POST /v1/query`` and ``feedback query``: one read-only statement, bounded, and an analyst key
sees its own tenant's rows only — however the SQL tries to get out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from feedback.querying import QueryFailed, run_query
from runtime.readonly_query import QueryError, QueryLimits, QueryRefused, ReadOnlyQueries, ReadScope
from runtime.settings import Settings
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _query(pipeline: RunningPipeline, sql: str, key: str = "analyst") -> tuple[int, dict[str, Any]]:
    response = pipeline.post("/v1/query", {"sql": sql}, key=key)
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def two_tenants(_pipeline: RunningPipeline) -> str:
    """One joined thumb for tenant acme and one for globex; returns a marker in both."""
    marker = new_id("sec-")
    for key in ("secret", "other_secret"):
        conversation, trace_id = new_id("conv-"), f"{marker}-{key}"
        posted = _pipeline.post("/v1/traces", trace(trace_id, conversation, feature=marker), key=key)
        assert posted.status_code == 202, posted.text
        thumbs = event("thumbs", conversation_id=conversation, trace_id=trace_id, user_id=marker)
        assert _pipeline.post("/v1/events", thumbs, key=key).status_code == 202
    _pipeline.wait_rows("SELECT 1 FROM events WHERE user_id = {m:String} AND trace_joined", 2, timeout_s=60, m=marker)
    return marker


def test_several_statements_are_refused_and_none_runs(pipeline: RunningPipeline) -> None:
    database = pipeline.settings.clickhouse_database
    for key in ("admin", "analyst"):
        status, body = _query(pipeline, f"SELECT 1; DROP TABLE {database}.events_log; SELECT 1", key=key)
        assert status == 400
        assert "exactly one statement" in body["error"]
    assert pipeline.rows(f"EXISTS TABLE {database}.events_log") == [(1,)]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE {db}.events_log", "only"),
        ("INSERT INTO {db}.events_log SELECT * FROM {db}.events_log", "only"),
        ("SELECT 1 SETTINGS readonly = 0", "readonly"),
        ("SELECT * FROM {db}.events_log INTO OUTFILE '/tmp/feedback-leak.csv'", "INTO OUTFILE"),
        ("SELECT 1 FORMAT JSON", "FORMAT"),
        ("SELECT file('/etc/hostname')", "reads files|readonly"),
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "file|readonly"),
        ("SELECT * FROM url('http://127.0.0.1:9/x', 'CSV')", "url|readonly"),
        ("SELECT * FROM s3('http://127.0.0.1:9/x.csv', 'CSV')", "s3|readonly"),
        ("SELECT * FROM remote('127.0.0.1', system.one)", "remote|readonly"),
    ],
)
def test_admin_queries_are_read_only_and_touch_no_file_or_network(
    pipeline: RunningPipeline, sql: str, expected: str
) -> None:
    status, body = _query(pipeline, sql.format(db=pipeline.settings.clickhouse_database), key="admin")
    assert status == 400, body
    assert re.search(expected, body["error"], re.IGNORECASE), body
    assert not Path("/tmp/feedback-leak.csv").exists()


def test_admin_still_reads_everything(pipeline: RunningPipeline, two_tenants: str) -> None:
    status, body = _query(
        pipeline, f"SELECT DISTINCT tenant_id FROM events WHERE user_id = '{two_tenants}' ORDER BY 1", key="admin"
    )
    assert status == 200, body
    assert body["rows"] == [["acme"], ["globex"]]
    assert _query(pipeline, "SELECT count() > 0 FROM system.tables", key="admin")[1]["rows"] == [[True]]
    assert _query(pipeline, "SELECT sum(number) FROM numbers(10)", key="admin")[1]["rows"] == [[45]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT tenant_id FROM events WHERE user_id = '{m}'",
        "SELECT DISTINCT tenant_id FROM {db}.events_log WHERE user_id = '{m}'",
        "SELECT DISTINCT tenant_id FROM traces WHERE feature = '{m}'",
        "SELECT DISTINCT tenant_id FROM traces_log WHERE feature = '{m}'",
        "SELECT DISTINCT tenant_id FROM quality_hourly WHERE feature = '{m}'",
        "SELECT DISTINCT tenant_id FROM (SELECT * FROM (SELECT * FROM events_log) WHERE user_id = '{m}')",
        "SELECT tenant_id FROM events WHERE user_id = '{m}' UNION DISTINCT "
        "SELECT tenant_id FROM {db}.events WHERE user_id = '{m}'",
        "SELECT DISTINCT e.tenant_id FROM events AS e JOIN traces AS t ON e.trace_id = t.trace_id "
        "WHERE t.feature = '{m}'",
        "SELECT DISTINCT tenant_id FROM events WHERE trace_id IN (SELECT trace_id FROM traces_log "
        "WHERE feature = '{m}')",
        "WITH x AS (SELECT * FROM events_log WHERE user_id = '{m}') SELECT DISTINCT tenant_id FROM x",
    ],
)
def test_an_analyst_sees_its_tenant_only(pipeline: RunningPipeline, two_tenants: str, sql: str) -> None:
    database = pipeline.settings.clickhouse_database
    status, body = _query(pipeline, sql.format(m=two_tenants, db=database))
    assert status == 200, body
    assert body["rows"] == [["acme"]]
    status, body = _query(pipeline, sql.format(m=two_tenants, db=database), key="other_analyst")
    assert body["rows"] == [["globex"]]


def test_an_analyst_counts_only_its_rows(pipeline: RunningPipeline, two_tenants: str) -> None:
    status, body = _query(pipeline, "SELECT countIf(tenant_id != 'acme') FROM events_log")
    assert (status, body["rows"]) == (200, [[0]])
    status, body = _query(pipeline, "SELECT count() FROM schema_migrations")
    assert (status, body["rows"]) == (200, [[0]])  # no tenant column: no rows


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM system.tables",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM events WHERE event_id IN (SELECT name FROM system.databases)",
        "SELECT * FROM merge('{db}', 'events_log')",
        "SELECT * FROM view(SELECT * FROM {db}.events_log)",
        "SELECT * FROM numbers(3)",
        "SELECT * FROM events SETTINGS additional_table_filters = {{}}",
        "SHOW TABLES",
        "DESCRIBE TABLE system.tables",
    ],
)
def test_an_analyst_cannot_leave_its_tenants_tables(pipeline: RunningPipeline, sql: str) -> None:
    status, body = _query(pipeline, sql.format(db=pipeline.settings.clickhouse_database))
    assert status == 400, body
    assert body["error"].startswith("sql:")


def test_a_table_created_later_is_filtered_too(pipeline: RunningPipeline) -> None:
    database = pipeline.settings.clickhouse_database
    assert _query(pipeline, "SELECT 1")[0] == 200  # the analyst's session exists before the table
    name = f"late_{new_id()}"
    pipeline.client.command(f"CREATE TABLE {database}.{name} (tenant_id String) ENGINE = MergeTree ORDER BY tenant_id")
    pipeline.client.command(f"INSERT INTO {database}.{name} VALUES ('acme'), ('globex')")
    status, body = _query(pipeline, f"SELECT tenant_id FROM {name}")
    assert (status, body["rows"]) == (200, [["acme"]])


def test_only_read_keys_may_query(pipeline: RunningPipeline) -> None:
    for key in ("public", "secret"):
        response = pipeline.post("/v1/query", {"sql": "SELECT 1"}, key=key)
        assert response.status_code == 403
        assert "admin or analyst" in response.json()["error"]


def test_feedback_query_runs_as_the_given_key(pipeline: RunningPipeline, two_tenants: str) -> None:
    sql = f"SELECT DISTINCT tenant_id FROM events WHERE user_id = '{two_tenants}' ORDER BY 1"
    assert run_query(pipeline.settings, sql)["rows"] == [["acme"], ["globex"]]
    assert run_query(pipeline.settings, sql, key="an_test_globex")["rows"] == [["globex"]]
    with pytest.raises(QueryFailed, match="needs an admin or analyst key"):
        run_query(pipeline.settings, sql, key="pk_test_acme")
    with pytest.raises(QueryFailed, match="unknown API key"):
        run_query(pipeline.settings, sql, key="nope")


def test_limits_apply_to_every_query(clickhouse: Client, base_settings: Settings) -> None:
    target, database = base_settings.clickhouse(), base_settings.clickhouse_database
    slow = ReadOnlyQueries(target, database, QueryLimits(timeout_s=0.5))
    with pytest.raises(QueryError, match=r"TIMEOUT_EXCEEDED|Timeout exceeded"):
        slow.run("SELECT count() FROM numbers_mt(100000000000)")
    small = ReadOnlyQueries(target, database, QueryLimits(max_memory_bytes=20 * 1024**2))
    with pytest.raises(QueryError, match="MEMORY_LIMIT_EXCEEDED"):
        small.run("SELECT groupArray(number) FROM numbers(10000000)")
    capped = ReadOnlyQueries(target, database, QueryLimits(max_rows=10))
    assert len(capped.run("SELECT number FROM numbers(1000000)")["rows"]) < 1_000_000
    with pytest.raises(QueryRefused, match="exactly one statement"):
        capped.run("SELECT 1; SELECT 2", ReadScope("acme"))


def test_the_products_own_selects_keep_the_tenant_filter(
    pipeline: RunningPipeline, two_tenants: str, base_settings: Settings
) -> None:
    queries = ReadOnlyQueries(base_settings.clickhouse(), base_settings.clickhouse_database)
    sql = "SELECT DISTINCT tenant_id FROM events WHERE user_id = {m:String} ORDER BY 1"
    assert queries.select(sql, {"m": two_tenants}).result_rows == [("acme",), ("globex",)]
    assert queries.select(sql, {"m": two_tenants}, ReadScope("globex")).result_rows == [("globex",)]
