"""Apply the numbered ``sql/NNNN_name.sql`` migrations once each, recorded in ``schema_migrations``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import structlog
from clickhouse_connect.driver.client import Client

from runtime.cluster_ddl import ClusterDDL
from runtime.retention import apply_retention

if TYPE_CHECKING:
    from runtime.settings import Settings

log = structlog.get_logger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, database: str) -> list[str]:
        """The file's statements (each ends with ``;`` at a line end), ``{database}`` filled in."""
        text = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        text = text.replace("{database}", database)
        return [part.strip() for part in STATEMENT_END.split(text) if part.strip()]


def bundled_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("sql").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(
    client: Client,
    database: str,
    migrations: list[Migration] | None = None,
    cluster: str | None = None,
    retention_days: int | None = None,
) -> list[Migration]:
    """Create the database if needed and apply what is not yet recorded. Returns what was applied.
    With ``cluster`` (FEEDBACK_CLICKHOUSE_CLUSTER), the same migrations as cluster DDL. With
    ``retention_days`` (FEEDBACK_RETENTION_DAYS), the personal tables' TTL is then set to it
    (``runtime.retention``); None leaves their TTL as it is."""
    if not IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r}: letters, digits and _ only")
    if cluster is not None:
        applied = _migrate_cluster(client, database, migrations, cluster)
        if retention_days is not None:
            apply_retention(client, database, retention_days, cluster)
        return applied
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query(f"SELECT version FROM {database}.schema_migrations FINAL").result_rows}
    applied = []
    for migration in migrations if migrations is not None else bundled_migrations():
        if migration.version in done:
            continue
        for statement in migration.statements(database):
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        log.info("migration.applied", database=database, version=migration.version, name=migration.name)
        applied.append(migration)
    if retention_days is not None:
        apply_retention(client, database, retention_days)
    return applied


def migrate_as_configured(client: Client, settings: Settings, database: str | None = None) -> list[Migration]:
    """``migrate`` with the settings' database (or ``database``), cluster and retention: what every
    command that opens ClickHouse runs first."""
    return migrate(
        client,
        database or settings.clickhouse_database,
        cluster=settings.clickhouse_cluster,
        retention_days=settings.retention_days,
    )


def cluster_statements(migrations: list[Migration], database: str, cluster: str) -> list[list[str]]:
    """Each migration's statements as cluster DDL (runtime.cluster_ddl), rewritten in order: a
    statement's form depends on the tables the migrations before it created."""
    ddl = ClusterDDL(cluster, database)
    return [[out for statement in m.statements(database) for out in ddl.rewrite(statement)] for m in migrations]


def cluster_bookkeeping(database: str, cluster: str) -> list[str]:
    """The database on every server, and ``schema_migrations``: one replicated table shared by every
    server of the cluster (no {shard} in its path, replicas named by shard and replica), so
    whichever server ``feedback migrate`` reaches knows what is applied."""
    on_cluster = ClusterDDL(cluster, database).on_cluster
    return [
        f"CREATE DATABASE IF NOT EXISTS {database} {on_cluster}",
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations {on_cluster} "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations', "
        "'{shard}-{replica}') ORDER BY version",
    ]


def _migrate_cluster(
    client: Client, database: str, migrations: list[Migration] | None, cluster: str
) -> list[Migration]:
    for statement in cluster_bookkeeping(database, cluster):
        client.command(statement)
    done = {row[0] for row in client.query(f"SELECT version FROM {database}.schema_migrations FINAL").result_rows}
    chosen = migrations if migrations is not None else bundled_migrations()
    applied = []
    for migration, statements in zip(chosen, cluster_statements(chosen, database, cluster), strict=True):
        if migration.version in done:
            continue
        for statement in statements:
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        log.info(
            "migration.applied", database=database, cluster=cluster, version=migration.version, name=migration.name
        )
        applied.append(migration)
    return applied
