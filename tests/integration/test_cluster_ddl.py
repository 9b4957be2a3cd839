"""Every migration of sql/ as cluster DDL (FEEDBACK_CLICKHOUSE_CLUSTER), checked by ClickHouse's own
parser: ``formatQuery`` (the statement a bound parameter, never run) must accept each statement and
keep what makes it cluster DDL. No cluster runs here; docker-compose.yml's `cluster` profile is one."""

from __future__ import annotations

import re

import pytest
from clickhouse_connect.driver.client import Client

from runtime.cluster_ddl import ClusterDDL
from runtime.migrations import bundled_migrations, cluster_bookkeeping, cluster_statements

pytestmark = [pytest.mark.clickhouse]

MIGRATIONS = bundled_migrations()
REWRITTEN = dict(zip((m.version for m in MIGRATIONS), cluster_statements(MIGRATIONS, "feedback", "prod"), strict=True))


def formatted(client: Client, statement: str) -> str:
    rows = client.query("SELECT formatQuery({sql:String})", parameters={"sql": statement}).result_rows
    return str(rows[0][0])


@pytest.mark.parametrize("version", sorted(REWRITTEN), ids=lambda v: f"{v:04d}")
def test_clickhouse_parses_every_cluster_statement(clickhouse: Client, version: int) -> None:
    assert REWRITTEN[version], "a migration without statements"
    for statement in REWRITTEN[version]:
        text = formatted(clickhouse, statement)
        if statement.startswith("INSERT INTO "):
            assert "ON CLUSTER" not in text
            continue
        assert re.search(r"\bON CLUSTER prod\b", text), text[:200]
        engine = re.search(r"^ENGINE = (\w+)\((.*)\)$", text, re.MULTILINE)
        if engine is None:
            continue
        name, args = engine.groups()
        if name == "Distributed":
            assert re.fullmatch(r"'prod', 'feedback', '\w+_local', cityHash64\(.+\)", args), args
        else:
            assert re.fullmatch(r"Replicated\w*MergeTree", name), name
            assert args.startswith("'/clickhouse/tables/{shard}/feedback/"), args
            assert "_local', '{replica}'" in args, args


def test_the_database_and_schema_migrations_of_a_cluster_parse(clickhouse: Client) -> None:
    database, migrations = (formatted(clickhouse, s) for s in cluster_bookkeeping("feedback", "prod"))
    assert database == "CREATE DATABASE IF NOT EXISTS feedback ON CLUSTER prod"
    assert "ON CLUSTER prod" in migrations
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/feedback/schema_migrations'" in migrations


SYNTHETIC = [
    "CREATE TABLE db.daily (tenant_id String, conversation_id String, n Int64) "
    "ENGINE = SummingMergeTree ORDER BY tenant_id",
    "CREATE TABLE db.incoming (tenant_id String) ENGINE = Null",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS db.daily_mv TO db.daily AS SELECT tenant_id, '' AS conversation_id, "
    "toInt64(1) AS n FROM db.incoming",
    "ALTER TABLE db.daily ADD COLUMN IF NOT EXISTS m UInt8 AFTER n, ADD INDEX i m TYPE minmax GRANULARITY 1",
    "ALTER TABLE db.daily DELETE WHERE n = 0",
    "ALTER TABLE db.daily UPDATE n = 1 WHERE n = 0",
    "DELETE FROM db.daily WHERE tenant_id = 'x'",
    "TRUNCATE TABLE IF EXISTS db.daily",
    "OPTIMIZE TABLE db.daily FINAL",
    "CREATE OR REPLACE VIEW db.v AS SELECT tenant_id FROM db.daily",
    "DROP VIEW IF EXISTS db.v",
    "CREATE FUNCTION share AS (a, b) -> if(b = 0, 0, a / b)",
    "DROP FUNCTION IF EXISTS share",
    "DROP TABLE IF EXISTS db.daily SYNC",
]


def test_clickhouse_parses_the_other_forms_of_the_rewrite(clickhouse: Client) -> None:
    """The statement kinds no migration uses yet, as a helper's next migration might."""
    ddl = ClusterDDL("prod", "db")
    rewritten = [out for statement in SYNTHETIC for out in ddl.rewrite(statement)]
    assert len(rewritten) > len(SYNTHETIC)
    for statement in rewritten:
        assert re.search(r"\bON CLUSTER prod\b", formatted(clickhouse, statement)), statement
