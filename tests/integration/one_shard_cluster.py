"""A worker on the cluster form of the schema, run as a process by test_cluster_worker.py: an
embedded engine configured with a cluster ``solo`` (one shard: this host), the migrations as
runtime/cluster_ddl.py writes them for a cluster, and the pipeline's cluster session settings.

Without a Keeper here, two things are dropped from the generated DDL, and only those: ``ON CLUSTER``
and the ``Replicated`` prefix of the engines (with its Keeper path and replica). Everything else is
as on a cluster: the ``_local`` tables, the Distributed tables with the contract's names, the
views over them, and the worker's lookups and inserts through the Distributed tables.

Usage: python -m tests.integration.one_shard_cluster ENGINE_DIR. Kafka, topics, group and database
come from FEEDBACK_* as for ``feedback worker``. Runs until SIGTERM, then prints the counts of
test_crash_safety.COUNTS_SQL, the engines of the database's tables and each view's row count as one
JSON line.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from pathlib import Path

import clickhouse_connect

from feedback.services import make_worker
from runtime.clickhouse import CLUSTER_SESSION
from runtime.migrations import bundled_migrations, cluster_statements
from runtime.settings import Settings
from tests.integration.test_crash_safety import COUNTS_SQL

CLUSTER = "solo"
CONFIG = f"""<clickhouse>
    <tcp_port>9000</tcp_port>
    <remote_servers><{CLUSTER}><shard><replica><host>localhost</host><port>9000</port></replica></shard></{CLUSTER}>
    </remote_servers>
</clickhouse>
"""
REPLICATED = re.compile(r"ENGINE = Replicated(\w+)\('[^']*', '[^']*'(?:, )?")


def without_keeper(statement: str) -> str:
    return REPLICATED.sub(r"ENGINE = \1(", statement.replace(f" ON CLUSTER '{CLUSTER}'", ""))


def main(engine_dir: Path) -> None:
    settings = Settings()
    database = settings.clickhouse_database
    config = engine_dir.with_name(engine_dir.name + ".xml")
    config.write_text(CONFIG)
    path = f"{engine_dir}?config-file={config}"
    client = clickhouse_connect.get_client(interface="chdb", path=path, settings=CLUSTER_SESSION)
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for statements in cluster_statements(bundled_migrations(), database, CLUSTER):
        for statement in statements:
            client.command(without_keeper(statement))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    make_worker(settings, client, stop=stop).run()
    reader = clickhouse_connect.get_client(interface="chdb", path=path, database=database, settings=CLUSTER_SESSION)
    counts = reader.query(COUNTS_SQL).result_rows[0]
    tables = reader.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").result_rows
    engines = {str(name): str(engine) for name, engine in tables}
    # every view answers over the Distributed tables (the quality score's, the reasons', ...)
    views = {name: int(reader.command(f"SELECT count() FROM {name}")) for name, e in engines.items() if e == "View"}  # type: ignore[arg-type]
    print(json.dumps({"counts": [int(value) for value in counts], "engines": engines, "views": views}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
