"""ClickHouse clients through clickhouse-connect: embedded chdb (``chdb://PATH``) or a server (``http(s)://``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from runtime.errors import ConfigError

CHDB_SCHEME = "chdb://"

# Every session on a cluster (FEEDBACK_CLICKHOUSE_CLUSTER): what keeps the exactness rules of one
# server through Distributed tables (docs/contract.md §7, "On a cluster").
CLUSTER_SESSION: dict[str, Any] = {
    # An insert returns once every shard has its rows: the next lookup sees them, and a retried
    # batch splits into the same per-shard blocks, which the replicated tables store once.
    "insert_distributed_sync": 1,
    # IN / JOIN subqueries (the worker's session-local key tables) run once, on the server the
    # client talks to, and go to the shards with the query: every shard is asked about every key.
    "prefer_global_in_and_join": 1,
}


@dataclass(frozen=True)
class ClickHouseTarget:
    """Where ClickHouse lives: an embedded engine path, or a server DSN."""

    url: str
    cluster: str | None = None  # FEEDBACK_CLICKHOUSE_CLUSTER: a server's cluster of remote_servers

    @property
    def embedded(self) -> bool:
        return self.url.startswith(CHDB_SCHEME)

    @property
    def chdb_path(self) -> Path:
        """The engine directory of ``chdb://PATH`` (``chdb://./x`` relative, ``chdb:///x`` absolute)."""
        if not self.embedded:
            raise ConfigError(f"not an embedded ClickHouse URL: {self.url!r}")
        raw = self.url[len(CHDB_SCHEME) :]
        if not raw:
            raise ConfigError("FEEDBACK_CLICKHOUSE_URL: chdb:// needs a path, e.g. chdb://./.data/clickhouse")
        return Path(raw).resolve()

    def connect(self, database: str | None = None, **settings: Any) -> Client:
        """A new client; embedded clients in one process share the engine."""
        if self.cluster is not None:
            if self.embedded:
                raise ConfigError(
                    "FEEDBACK_CLICKHOUSE_CLUSTER: a cluster needs ClickHouse servers "
                    "(FEEDBACK_CLICKHOUSE_URL=http(s)://...), not the embedded engine"
                )
            settings = {**CLUSTER_SESSION, **settings}
        if self.embedded:
            path = self.chdb_path
            path.mkdir(parents=True, exist_ok=True)
            return clickhouse_connect.get_client(
                interface="chdb", path=str(path), database=database, settings=settings or None
            )
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(
                "FEEDBACK_CLICKHOUSE_URL: expected chdb://PATH or http(s)://user:pass@host:port, "
                f"got scheme of {self.url.split(':', 1)[0]!r}"
            )
        client = clickhouse_connect.get_client(dsn=self.url, database=database, settings=settings or None)
        if self.cluster is not None and not settings.get("readonly"):
            # With replicas, an insert returns once every replica of its shard has it: a lookup
            # then reads the rows the worker just wrote, whichever replica answers. (A replica
            # down stops the inserts, and the worker retries: nothing is counted twice.)
            replicas = cluster_replicas(client, self.cluster)
            if replicas > 1:
                client.set_client_setting("insert_quorum", replicas)
        return client


def cluster_replicas(client: Client, cluster: str) -> int:
    """How many replicas each shard of ``cluster`` has (the server's remote_servers)."""
    rows = client.query(
        "SELECT min(replicas), max(replicas), count() FROM "
        "(SELECT shard_num, count() AS replicas FROM system.clusters WHERE cluster = {c:String} GROUP BY shard_num)",
        parameters={"c": cluster},
    ).result_rows
    fewest, most, shards = rows[0]
    if not shards:
        raise ConfigError(f"FEEDBACK_CLICKHOUSE_CLUSTER: the server has no cluster {cluster!r} in its remote_servers")
    if fewest != most:
        raise ConfigError(
            f"FEEDBACK_CLICKHOUSE_CLUSTER: the shards of {cluster!r} have {fewest} to {most} replicas; give every "
            "shard the same number (an insert waits for all replicas of its shard)"
        )
    return int(most)


@dataclass(frozen=True)
class EngineOwner:
    """The process that holds an embedded engine, and where its collector answers queries.

    chdb allows one process per engine path, so a running pipeline records itself here and
    ``feedback query`` sends its SQL through that process's collector instead.
    """

    pid: int
    http_addr: str | None

    @staticmethod
    def file_for(engine_path: Path) -> Path:
        return engine_path.with_name(engine_path.name + ".owner.json")

    @classmethod
    def current(cls, engine_path: Path) -> EngineOwner | None:
        path = cls.file_for(engine_path)
        try:
            data = json.loads(path.read_text())
            owner = cls(pid=int(data["pid"]), http_addr=data.get("http_addr"))
        except (OSError, ValueError, KeyError):
            return None
        return owner if owner.alive() else None

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def claim(self, engine_path: Path) -> None:
        path = self.file_for(engine_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": self.pid, "http_addr": self.http_addr}))

    def release(self, engine_path: Path) -> None:
        path = self.file_for(engine_path)
        current = EngineOwner.current(engine_path)
        if current is None or current.pid == self.pid:
            path.unlink(missing_ok=True)
