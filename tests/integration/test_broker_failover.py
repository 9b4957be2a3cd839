"""A broker dies under load (a 3-broker cluster of this test's own, never the shared broker):
the collector answers 202 again once leaders moved (503 meanwhile, never a 202 for what Kafka
did not acknowledge), and every event that got a 202 is stored exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # documented here, re-exported without __all__
    AdminClient,
    ConfigResource,
)
from typer.testing import CliRunner, Result

from bench.failover import SteadyClient, free_base_port, kill_9, leader_of
from feedback.cli import app
from feedback.services import CollectorServer, make_collector, make_worker
from runtime.kafka import ensure_topics
from runtime.local_cluster import LocalCluster
from runtime.migrations import migrate
from runtime.settings import Settings
from tests.conftest import KEYS
from tests.helpers import free_port, new_id, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


@dataclass(frozen=True)
class Drill:
    cluster: LocalCluster
    env: dict[str, str]

    def feedback(self, *args: str) -> Result:
        """``feedback ARGS`` in this process (a subprocess would spend its time importing)."""
        return CliRunner().invoke(app, list(args), env=self.env)


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """Three brokers on free ports (29092 and up) and a data dir of this module's own, started and
    stopped with the commands a user runs."""
    data_dir = tmp_path_factory.mktemp("kafka-cluster")
    port = free_base_port()
    env = {
        "FEEDBACK_KAFKA_LOCAL_PORT": str(port),
        "FEEDBACK_KAFKA_DATA_DIR": str(data_dir),
        "FEEDBACK_KAFKA_HEAP": "256m",
        "FEEDBACK_LOG_FORMAT": "console",
        "FEEDBACK_LOG_LEVEL": "warning",
    }
    drill = Drill(Settings(kafka_local_port=port, kafka_data_dir=data_dir, kafka_heap="256m").local_cluster(3), env)
    try:
        started = drill.feedback("kafka", "start", "--brokers", "3")
        assert started.exit_code == 0, (started.stdout, started.exception)
        assert started.stdout.splitlines()[-1] == f"bootstrap: {drill.cluster.bootstrap}"
        yield drill
    finally:
        stopped = drill.feedback("kafka", "stop")
        drill.cluster.stop(timeout_s=5)  # what the command left, if it failed
    assert stopped.stdout.startswith("kafka cluster stopped"), (stopped.stdout, stopped.exception)


@pytest.fixture
def cluster(drill: Drill) -> LocalCluster:
    return drill.cluster


def test_status_lists_each_broker_with_its_pid_and_the_bootstrap(drill: Drill) -> None:
    status = drill.feedback("kafka", "status")
    assert status.exit_code == 0, (status.stdout, status.exception)
    lines = status.stdout.splitlines()
    for node in drill.cluster.nodes:
        assert f"broker {node.node_id} at {node.bootstrap}: ready (pid {node.pid()})" in lines
    ports = drill.cluster.controller_ports
    assert f"controllers: {', '.join(f'127.0.0.1:{p}' for p in ports)}" in lines
    assert lines[-1] == f"bootstrap: {drill.cluster.bootstrap}"


@pytest.fixture
def settings(cluster: LocalCluster, base_settings: Settings) -> Settings:
    """The session's ClickHouse engine, a database and topics of this test's own."""
    settings = base_settings.model_copy(
        update={
            "kafka_bootstrap": cluster.bootstrap,
            "topic_prefix": f"failover-{new_id()}.",
            "clickhouse_database": f"failover_{uuid.uuid4().hex[:8]}",
            "http_addr": f"127.0.0.1:{free_port()}",
            "retry_after_s": 1,
        }
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database)
    return settings


def test_topics_on_three_brokers_are_replicated_three_times_with_two_in_sync(settings: Settings) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topic = settings.topic("explicit")
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    assert {len(p.replicas) for p in partitions.values()} == {3}
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["min.insync.replicas"].value == "2"


def test_a_broker_killed_under_load_loses_no_acknowledged_event(settings: Settings, cluster: LocalCluster) -> None:
    client = settings.clickhouse().connect(database=settings.clickhouse_database)
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    worker_thread = threading.Thread(target=worker.run, name="failover-worker", daemon=True)
    worker_thread.start()
    server_thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"
    wait_for(lambda: _ok(f"{base}/healthz"), 30, what="collector up")
    prefix = f"failover-{new_id()}-"
    load = SteadyClient(base, KEYS["public"], prefix).start()
    try:
        wait_for(lambda: len(load.answers.accepted_at) >= 10, 60, what="202s before the kill")
        victim = leader_of(settings.kafka_bootstrap, settings.topic("explicit"))
        kill_9(cluster, victim)
        killed_at = time.monotonic()
        # Leaders moved to the two survivors: the collector accepts again.
        wait_for(lambda: load.accepted_since(killed_at) >= 20, 90, what="202s after the kill")
    finally:
        answers = load.stop()
    try:
        assert answers.unexpected == []
        accepted = set(answers.accepted_ids)
        assert len(accepted) == len(answers.accepted_ids)
        # Every 202'd event once, nothing else: counted by event_id, and in the hourly sums fed by
        # every insert (a write doubled anywhere shows there; opinions are a batch's second insert).
        sql = (
            "SELECT (SELECT count() FROM events WHERE startsWith(conversation_id, {p:String})),"
            " (SELECT uniqExact(event_id) FROM events WHERE startsWith(conversation_id, {p:String})),"
            " (SELECT sum(thumbs_down) FROM quality_hourly)"
        )

        def stored() -> tuple[int, ...] | None:
            row = tuple(int(x) for x in client.query(sql, parameters={"p": prefix}).result_rows[0])
            return row if min(row) >= len(accepted) else None

        assert wait_for(stored, 120, what="every accepted event in ClickHouse") == (len(accepted),) * 3
        ids = {
            str(event_id)
            for (event_id,) in client.query(
                "SELECT event_id FROM events WHERE startsWith(conversation_id, {p:String})", parameters={"p": prefix}
            ).result_rows
        }
        assert ids == accepted
    finally:
        server.stop()
        server_thread.join(30)
        stop.set()
        worker_thread.join(30)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
