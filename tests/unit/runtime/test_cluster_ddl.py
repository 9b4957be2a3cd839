"""The generic rewrite of single-node migrations into cluster DDL (runtime/cluster_ddl.py).

ClickHouse's own parser checks every generated statement in tests/integration/test_cluster_ddl.py."""

from __future__ import annotations

from typing import Any

import pytest

from producers.app import message_key
from runtime.clickhouse import CLUSTER_SESSION, ClickHouseTarget, cluster_replicas
from runtime.cluster_ddl import CONVERSATION_SHARDING, ClusterDDL, ClusterDDLError, split_top_level
from runtime.errors import ConfigError
from runtime.migrations import Migration, bundled_migrations, cluster_statements, migrate
from runtime.settings import Settings

EVENTS = """CREATE TABLE IF NOT EXISTS db.events_log
(
    tenant_id LowCardinality(String),
    event_id String,
    conversation_id String COMMENT 'a, b (c)',
    version UInt32,
    sign Int8,
    INDEX idx_ts event_id TYPE bloom_filter GRANULARITY 4,
    PROJECTION p (SELECT tenant_id, count() GROUP BY tenant_id)
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY (tenant_id, event_id, version)
SETTINGS non_replicated_deduplication_window = 10000"""


def ddl() -> ClusterDDL:
    return ClusterDDL("prod", "db")


def test_a_merge_tree_table_becomes_a_replicated_local_table_and_a_distributed_one() -> None:
    local, distributed = ddl().rewrite(EVENTS)
    assert local.startswith("CREATE TABLE IF NOT EXISTS db.events_log_local ON CLUSTER 'prod'\n(")
    assert "PROJECTION p (SELECT tenant_id, count() GROUP BY tenant_id)" in local
    assert (
        "ENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/db/events_log_local', '{replica}', sign)"
        in local
    )
    assert "ORDER BY (tenant_id, event_id, version)" in local
    # the insert-retry guarantee of one server, kept by the replicated tables
    assert "SETTINGS replicated_deduplication_window = 10000" in local
    assert "non_replicated" not in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS db.events_log ON CLUSTER 'prod'\nAS db.events_log_local\n"
        f"ENGINE = Distributed('prod', 'db', 'events_log_local', {CONVERSATION_SHARDING})"
    )


def test_a_table_made_as_a_sharded_one_and_swapped_in_swaps_the_local_tables() -> None:
    """sql/0030: a new layout made AS the table, filled, then EXCHANGEd with it."""
    cluster = ddl()
    cluster.rewrite(EVENTS)
    local, distributed = cluster.rewrite(
        "CREATE TABLE IF NOT EXISTS db.by_time AS db.events_log\nENGINE = CollapsingMergeTree(sign)\n"
        "PARTITION BY toYYYYMM(ts) ORDER BY (tenant_id, event_id)\nSETTINGS non_replicated_deduplication_window = 10"
    )
    assert local == (
        "CREATE TABLE IF NOT EXISTS db.by_time_local ON CLUSTER 'prod'\nAS db.events_log_local\n"
        "ENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/db/by_time_local', '{replica}', sign)\n"
        "PARTITION BY toYYYYMM(ts) ORDER BY (tenant_id, event_id)\nSETTINGS replicated_deduplication_window = 10"
    )
    assert distributed.endswith(f"ENGINE = Distributed('prod', 'db', 'by_time_local', {CONVERSATION_SHARDING})")
    assert cluster.rewrite("EXCHANGE TABLES db.events_log AND db.by_time") == [
        "EXCHANGE TABLES db.events_log_local AND db.by_time_local ON CLUSTER 'prod'"
    ]
    with pytest.raises(ClusterDDLError, match="sharded MergeTree table only"):
        cluster.rewrite("CREATE TABLE db.x AS db.unknown ENGINE = MergeTree ORDER BY tuple()")


def test_the_sharding_key_is_the_kafka_message_key() -> None:
    # one conversation: one partition (one worker) and one shard, both from the same bytes
    assert message_key({"tenant_id": "t", "conversation_id": "c"}) == b"t/c"
    assert CONVERSATION_SHARDING == "cityHash64(concat(tenant_id, '/', conversation_id))"


def test_a_table_without_a_conversation_is_sharded_by_its_whole_sorting_key() -> None:
    _, distributed = ddl().rewrite(
        "CREATE TABLE db.alerts (tenant_id String, alert_id String) ENGINE = ReplacingMergeTree "
        "ORDER BY (tenant_id, alert_id)"
    )
    assert distributed.endswith("Distributed('prod', 'db', 'alerts_local', cityHash64(tenant_id, alert_id))")
    assert "CREATE TABLE db.alerts ON CLUSTER" in distributed  # no IF NOT EXISTS added
    _, single = ddl().rewrite("CREATE TABLE db.k (id String, v UInt8) ENGINE = MergeTree ORDER BY id SETTINGS x = 1")
    assert single.endswith("cityHash64(id))")
    with pytest.raises(ClusterDDLError, match="tuple"):
        ddl().rewrite("CREATE TABLE db.k (id String) ENGINE = MergeTree ORDER BY tuple()")


def test_an_engine_without_arguments_gets_only_the_replication_ones() -> None:
    local, _ = ddl().rewrite("CREATE TABLE db.k (id String) ENGINE = ReplacingMergeTree ORDER BY id")
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/k_local', '{replica}')" in local


def test_other_engines_and_views_are_the_same_text_on_cluster() -> None:
    assert ddl().rewrite("CREATE TABLE db.m (a String) ENGINE = Memory") == [
        "CREATE TABLE db.m ON CLUSTER 'prod'\n(a String) ENGINE = Memory"
    ]
    assert ddl().rewrite("CREATE OR REPLACE VIEW db.v AS SELECT * FROM db.events_log") == [
        "CREATE OR REPLACE VIEW db.v ON CLUSTER 'prod' AS SELECT * FROM db.events_log"
    ]
    assert ddl().rewrite("CREATE VIEW IF NOT EXISTS db.v AS SELECT 1") == [
        "CREATE VIEW IF NOT EXISTS db.v ON CLUSTER 'prod' AS SELECT 1"
    ]


def test_alter_goes_to_the_local_table_and_column_changes_also_to_the_distributed_one() -> None:
    rewriter = ddl()
    rewriter.rewrite(EVENTS)
    local, distributed = rewriter.rewrite(
        "ALTER TABLE db.events_log ADD COLUMN IF NOT EXISTS a String DEFAULT concat('x', ',') AFTER event_id, "
        "DROP PROJECTION IF EXISTS p, ADD INDEX i a TYPE bloom_filter, MODIFY COLUMN b UInt8"
    )
    assert local.startswith("ALTER TABLE db.events_log_local ON CLUSTER 'prod'\nADD COLUMN IF NOT EXISTS a")
    assert "DROP PROJECTION IF EXISTS p" in local
    assert "ADD INDEX i" in local
    assert distributed == (
        "ALTER TABLE db.events_log ON CLUSTER 'prod'\n"
        "ADD COLUMN IF NOT EXISTS a String DEFAULT concat('x', ',') AFTER event_id,\nMODIFY COLUMN b UInt8"
    )
    assert rewriter.rewrite("ALTER TABLE db.events_log DROP PROJECTION p") == [
        "ALTER TABLE db.events_log_local ON CLUSTER 'prod'\nDROP PROJECTION p"
    ]
    # a table that is not sharded (e.g. another engine) is altered as it is, on every server
    assert rewriter.rewrite("ALTER TABLE db.m ADD COLUMN x UInt8") == [
        "ALTER TABLE db.m ON CLUSTER 'prod'\nADD COLUMN x UInt8"
    ]


def test_data_statements_go_to_the_shards_and_inserts_through_the_distributed_table() -> None:
    rewriter = ddl()
    rewriter.rewrite(EVENTS)
    insert = "INSERT INTO db.events_log SELECT * FROM db.events_log FINAL WHERE sign = 1"
    assert rewriter.rewrite(insert) == [insert]
    assert rewriter.rewrite("DELETE FROM db.events_log WHERE tenant_id = 'x'") == [
        "DELETE FROM db.events_log_local ON CLUSTER 'prod' WHERE tenant_id = 'x'"
    ]
    assert rewriter.rewrite("TRUNCATE TABLE IF EXISTS db.events_log") == [
        "TRUNCATE TABLE IF EXISTS db.events_log_local ON CLUSTER 'prod'"
    ]
    assert rewriter.rewrite("OPTIMIZE TABLE db.events_log FINAL") == [
        "OPTIMIZE TABLE db.events_log_local ON CLUSTER 'prod' FINAL"
    ]
    assert rewriter.rewrite("DROP TABLE IF EXISTS db.events_log SYNC") == [
        "DROP TABLE IF EXISTS db.events_log ON CLUSTER 'prod' SYNC",
        "DROP TABLE IF EXISTS db.events_log_local ON CLUSTER 'prod' SYNC",
    ]
    assert "db.events_log" not in rewriter.sharded


def test_a_materialized_view_fires_on_the_local_source_and_writes_the_local_target() -> None:
    rewriter = ddl()
    rewriter.rewrite(EVENTS)
    rewriter.rewrite("CREATE TABLE db.daily (tenant_id String, n Int64) ENGINE = SummingMergeTree ORDER BY tenant_id")
    (view,) = rewriter.rewrite(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS db.daily_mv TO db.daily AS "
        "SELECT tenant_id, sum(sign) AS n FROM db.events_log GROUP BY tenant_id"
    )
    assert view == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS db.daily_mv ON CLUSTER 'prod'\nTO db.daily_local\n"
        "AS SELECT tenant_id, sum(sign) AS n FROM db.events_log_local GROUP BY tenant_id"
    )
    # from a source that is not sharded (e.g. a Null table), rows go by the target's key
    rewriter.rewrite("CREATE TABLE db.incoming (tenant_id String) ENGINE = Null")
    (routed,) = rewriter.rewrite(
        "CREATE MATERIALIZED VIEW db.r TO db.daily AS SELECT tenant_id, 1 AS n FROM db.incoming"
    )
    assert "TO db.daily\n" in routed
    assert "FROM db.incoming" in routed
    with pytest.raises(ClusterDDLError, match="TO table"):
        rewriter.rewrite("CREATE MATERIALIZED VIEW db.x ENGINE = MergeTree ORDER BY a AS SELECT a FROM db.events_log")


@pytest.mark.parametrize(
    "statement",
    [
        "RENAME TABLE db.a TO db.b",
        "SYSTEM RELOAD DICTIONARIES",
        "CREATE TABLE db.x ON CLUSTER c (a String) ENGINE = MergeTree ORDER BY a",  # column list expected
        "CREATE TABLE db.x (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
        "CREATE TABLE db.x (a String)",
        "CREATE TABLE db.x (a String) ENGINE = MergeTree ORDER BY a AS SELECT 'a'",
    ],
)
def test_what_has_no_cluster_form_is_refused_by_name(statement: str) -> None:
    with pytest.raises(ClusterDDLError):
        ddl().rewrite(statement)


def test_top_level_split_ignores_commas_in_brackets_strings_and_comments() -> None:
    text = "a Tuple(x String, y UInt8), b String DEFAULT 'p, q' -- c, d\n, `e,f` Array(String)"
    assert split_top_level(text) == [
        "a Tuple(x String, y UInt8)",
        "b String DEFAULT 'p, q' -- c, d",
        "`e,f` Array(String)",
    ]
    assert split_top_level("a String COMMENT 'it''s, ok', b") == ["a String COMMENT 'it''s, ok'", "b"]


def test_every_bundled_migration_has_a_cluster_form() -> None:
    migrations = bundled_migrations()
    rewritten = cluster_statements(migrations, "feedback", "prod")
    assert len(rewritten) == len(migrations)
    statements = [s for group in rewritten for s in group]
    for statement in statements:
        assert "ON CLUSTER 'prod'" in statement or statement.startswith("INSERT INTO ")
        assert "non_replicated_deduplication_window" not in statement
    distributed = [s for s in statements if "ENGINE = Distributed(" in s]
    # the contract's tables keep their names; each has its replicated local table
    for table in ("events_log", "traces_log", "opinions_log"):
        assert any(s.startswith(f"CREATE TABLE IF NOT EXISTS feedback.{table} ON CLUSTER") for s in distributed)
        assert any(f"feedback.{table}_local ON CLUSTER" in s and "ENGINE = Replicated" in s for s in statements)
        assert any(f"'{table}_local', {CONVERSATION_SHARDING})" in s for s in distributed)


class Recorder:
    """A stand-in client that records what migrate() sends."""

    def __init__(self, done: tuple[int, ...] = ()) -> None:
        self.commands: list[str] = []
        self.inserts: list[Any] = []
        self._done = done

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str) -> Any:
        return type("Result", (), {"result_rows": [(v,) for v in self._done]})()

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        self.inserts.append((table, rows))


def test_without_a_cluster_the_statements_are_the_migrations_own() -> None:
    client = Recorder()
    migrate(client, "db")  # type: ignore[arg-type]
    expected = [s for m in bundled_migrations() for s in m.statements("db")]
    assert client.commands[0] == "CREATE DATABASE IF NOT EXISTS db"
    assert "ENGINE = ReplacingMergeTree ORDER BY version" in client.commands[1]
    assert client.commands[2:] == expected


def test_with_a_cluster_migrate_runs_the_cluster_form_of_what_is_pending() -> None:
    create = (
        "CREATE TABLE {database}.t (tenant_id String, conversation_id String) ENGINE = MergeTree ORDER BY tenant_id;"
    )
    first = Migration(1, "t", create + "\nALTER TABLE {database}.t ADD COLUMN x UInt8;")
    second = Migration(2, "u", "ALTER TABLE {database}.t ADD COLUMN y UInt8;")
    client = Recorder(done=(1,))
    applied = migrate(client, "db", [first, second], cluster="prod")  # type: ignore[arg-type]
    assert applied == [second]
    assert client.commands[0] == "CREATE DATABASE IF NOT EXISTS db ON CLUSTER 'prod'"
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/all/db/schema_migrations', '{shard}-{replica}')"
        in (client.commands[1])
    )
    # migration 1 is applied already, yet it made `t` sharded: 2 alters both tables
    assert client.commands[2:] == [
        "ALTER TABLE db.t_local ON CLUSTER 'prod'\nADD COLUMN y UInt8",
        "ALTER TABLE db.t ON CLUSTER 'prod'\nADD COLUMN y UInt8",
    ]
    assert client.inserts == [("db.schema_migrations", [[2, "u"]])]


def test_cluster_settings() -> None:
    assert Settings(clickhouse_cluster="  ").clickhouse_cluster is None
    settings = Settings(clickhouse_cluster="prod", clickhouse_url="http://u:p@ch:8123")  # type: ignore[arg-type]
    assert settings.clickhouse() == ClickHouseTarget("http://u:p@ch:8123", "prod")
    with pytest.raises(ValueError, match="FEEDBACK_CLICKHOUSE_CLUSTER"):
        Settings(clickhouse_cluster="a'b", clickhouse_url="http://u:p@ch:8123")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="FEEDBACK_CLICKHOUSE_CLUSTER: a cluster is made of ClickHouse servers"):
        Settings(clickhouse_cluster="prod")  # the default URL: the embedded engine
    with pytest.raises(ConfigError, match="embedded"):
        ClickHouseTarget("chdb:///tmp/x", "prod").connect()
    assert CLUSTER_SESSION == {"insert_distributed_sync": 1, "prefer_global_in_and_join": 1}


class Clusters:
    """A stand-in client answering cluster_replicas' question with fixed (min, max, shards)."""

    def __init__(self, row: tuple[int, int, int]) -> None:
        self.row = row

    def query(self, sql: str, parameters: dict[str, Any]) -> Any:
        assert parameters == {"c": "prod"}
        return type("Result", (), {"result_rows": [self.row]})()


def test_an_insert_waits_for_every_replica_of_its_shard() -> None:
    assert cluster_replicas(Clusters((2, 2, 3)), "prod") == 2  # type: ignore[arg-type]
    assert cluster_replicas(Clusters((1, 1, 2)), "prod") == 1  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no cluster 'prod'"):
        cluster_replicas(Clusters((0, 0, 0)), "prod")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="same number"):
        cluster_replicas(Clusters((2, 3, 2)), "prod")  # type: ignore[arg-type]
