"""Topics are created replicated like the cluster allows, and the local cluster's nodes are
configured to find each other on their own ports."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaException

from bench.failover import longest_gap_s
from runtime import kafka as runtime_kafka
from runtime.errors import KafkaUnavailable
from runtime.local_cluster import LocalCluster
from runtime.settings import Settings


class FakeAdmin:
    """An AdminClient that knows ``brokers`` brokers and no topic, and records what it is asked to create."""

    created: list[Any] = []  # noqa: RUF012 (one test at a time)

    def __init__(self, config: dict[str, Any], brokers: int = 1) -> None:
        self.config = config
        self.brokers = brokers

    existing: dict[str, Any] = {}  # noqa: RUF012 (one test at a time)

    def list_topics(self, timeout: float) -> Any:
        return SimpleNamespace(brokers={i: object() for i in range(1, self.brokers + 1)}, topics=FakeAdmin.existing)

    def create_topics(self, topics: list[Any], request_timeout: float) -> dict[str, Any]:
        FakeAdmin.created = topics

        class Done:
            def result(self) -> None:
                return None

        return {topic.topic: Done() for topic in topics}


def created_with(monkeypatch: pytest.MonkeyPatch, brokers: int, **settings: Any) -> list[Any]:
    monkeypatch.setattr(runtime_kafka, "AdminClient", lambda config: FakeAdmin(config, brokers))
    monkeypatch.setattr(FakeAdmin, "existing", {})
    monkeypatch.setattr(FakeAdmin, "created", [])
    runtime_kafka.ensure_topics(Settings(**settings))
    return FakeAdmin.created


@pytest.mark.parametrize(
    ("brokers", "replication", "min_insync"), [(1, 1, None), (2, 2, None), (3, 3, "2"), (5, 3, "2")]
)
def test_replication_is_min_of_three_and_the_brokers(
    monkeypatch: pytest.MonkeyPatch, brokers: int, replication: int, min_insync: str | None
) -> None:
    topics = created_with(monkeypatch, brokers, topic_partitions=12)
    assert [t.topic for t in topics] == [f"feedback.{k}" for k in ("explicit", "implicit", "traces", "dlq")]
    for topic in topics:
        assert (topic.num_partitions, topic.replication_factor) == (12, replication)
        assert topic.config.get("min.insync.replicas") == min_insync
        assert topic.config["max.message.bytes"] == "1048576"


def test_replication_setting_wins_and_is_checked_against_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    topics = created_with(monkeypatch, 5, topic_replication=4)
    assert {(t.replication_factor, t.config["min.insync.replicas"]) for t in topics} == {(4, "2")}
    with pytest.raises(
        KafkaUnavailable,
        match=r"FEEDBACK_TOPIC_REPLICATION is 3 but .* has 1 broker\(s\) up: cannot create feedback.explicit",
    ):
        created_with(monkeypatch, 1, topic_replication=3)


def test_a_broker_down_does_not_stop_a_start_when_the_topics_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_kafka, "AdminClient", lambda config: FakeAdmin(config, brokers=2))
    replicated = SimpleNamespace(partitions={0: SimpleNamespace(replicas=[1, 2, 3])})
    kinds = ("explicit", "implicit", "traces", "dlq")
    monkeypatch.setattr(FakeAdmin, "existing", {f"feedback.{kind}": replicated for kind in kinds})
    monkeypatch.setattr(FakeAdmin, "created", [])
    runtime_kafka.ensure_topics(Settings(topic_replication=3))
    assert FakeAdmin.created == []


def test_topic_admin_uses_the_security_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def admin(config: dict[str, Any]) -> FakeAdmin:
        seen.append(config)
        return FakeAdmin(config)

    monkeypatch.setattr(runtime_kafka, "AdminClient", admin)
    runtime_kafka.ensure_topics(Settings(kafka_security_protocol="SSL", kafka_ssl_ca_location=Path("/ca.pem")))
    assert (seen[0]["security.protocol"], seen[0]["ssl.ca.location"]) == ("ssl", "/ca.pem")


def test_unreachable_cluster_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Down(FakeAdmin):
        def list_topics(self, timeout: float) -> Any:
            raise KafkaException("timed out")

    monkeypatch.setattr(runtime_kafka, "AdminClient", Down)
    with pytest.raises(KafkaUnavailable, match="cannot list topics"):
        runtime_kafka.ensure_topics(Settings())


def test_three_nodes_on_consecutive_ports_with_controllers_after_them(tmp_path: Path) -> None:
    cluster = Settings(kafka_local_port=29092, kafka_data_dir=tmp_path).local_cluster(3)
    assert cluster.bootstrap == "127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094"
    assert cluster.controller_ports == [29095, 29096, 29097]
    second = cluster.node(2).config_text()
    assert "node.id=2\n" in second
    assert "controller.quorum.voters=1@127.0.0.1:29095,2@127.0.0.1:29096,3@127.0.0.1:29097\n" in second
    assert "listeners=PLAINTEXT://127.0.0.1:29093,CONTROLLER://127.0.0.1:29096\n" in second
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:29093\n" in second
    for line in ("offsets.topic.replication.factor=3", "transaction.state.log.min.isr=2", "min.insync.replicas=2"):
        assert f"{line}\n" in second
    assert cluster.node(3).data_dir == tmp_path.resolve() / "node-3"


def test_the_single_broker_keeps_its_layout(tmp_path: Path) -> None:
    broker = Settings(kafka_data_dir=tmp_path).local_broker()
    text = broker.config_text()
    assert "node.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093\n" in text
    assert "offsets.topic.replication.factor=1\n" in text
    assert "min.insync.replicas" not in text
    assert broker.log_dir == tmp_path.resolve() / "logs"


def test_status_and_stop_find_the_cluster_last_started(tmp_path: Path) -> None:
    template = Settings(kafka_data_dir=tmp_path).local_cluster()
    assert LocalCluster.described(template) is None
    tmp_path.mkdir(exist_ok=True)
    template.description_file.write_text('{"brokers": 3, "port": 29092}')
    found = LocalCluster.described(template)
    assert found is not None
    assert (found.brokers, found.port) == (3, 29092)


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {Settings().local_broker().new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_longest_gap_counts_from_the_last_202_before_the_kill() -> None:
    assert longest_gap_s([1.0, 2.0, 2.5, 6.5, 7.0], since=3.0) == pytest.approx(4.0)
    assert longest_gap_s([1.0], since=3.0) == 0.0
