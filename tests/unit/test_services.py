"""Which Kafka and ClickHouse the integration suite uses (tests/services.py): each case."""

from __future__ import annotations

import pytest

from tests.services import ServicePlan, ServiceSelectionError, Source, docker_answers, plan_services

BOOTSTRAP = "kafka-1:9092,kafka-2:9092"
SERVER = "https://u:p@ch.example.com:8443"


class Docker:
    """A stand-in for the Docker probe that counts how often it is asked."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answers


def test_docker_present_starts_both_in_containers() -> None:
    plan = plan_services({}, Docker(True))
    assert plan == ServicePlan(kafka=Source.CONTAINER, clickhouse=Source.CONTAINER)
    assert plan.clickhouse_server  # the suite runs the http:// path


def test_docker_absent_uses_the_local_broker_and_the_embedded_engine() -> None:
    plan = plan_services({}, Docker(False))
    assert plan == ServicePlan(kafka=Source.LOCAL, clickhouse=Source.LOCAL)
    assert not plan.clickhouse_server


def test_explicit_env_wins_and_docker_is_not_asked() -> None:
    docker = Docker(True)
    plan = plan_services({"FEEDBACK_KAFKA_BOOTSTRAP": BOOTSTRAP, "FEEDBACK_CLICKHOUSE_URL": SERVER}, docker)
    assert plan == ServicePlan(Source.EXPLICIT, Source.EXPLICIT, kafka_bootstrap=BOOTSTRAP, clickhouse_url=SERVER)
    assert plan.clickhouse_server
    assert docker.asked == 0


def test_one_explicit_service_and_a_container_for_the_other() -> None:
    plan = plan_services({"FEEDBACK_KAFKA_BOOTSTRAP": BOOTSTRAP}, Docker(True))
    assert (plan.kafka, plan.clickhouse) == (Source.EXPLICIT, Source.CONTAINER)
    plan = plan_services({"FEEDBACK_CLICKHOUSE_URL": "chdb:///tmp/engine"}, Docker(False))
    assert (plan.kafka, plan.clickhouse) == (Source.LOCAL, Source.EXPLICIT)
    assert not plan.clickhouse_server  # an explicit embedded engine is still the embedded engine


def test_forced_off_never_asks_docker() -> None:
    docker = Docker(True)
    plan = plan_services({"FEEDBACK_TEST_CONTAINERS": "off"}, docker)
    assert plan == ServicePlan(kafka=Source.LOCAL, clickhouse=Source.LOCAL)
    assert docker.asked == 0


def test_forced_on_without_docker_is_an_error_not_a_fallback() -> None:
    with pytest.raises(ServiceSelectionError, match="no Docker engine"):
        plan_services({"FEEDBACK_TEST_CONTAINERS": "on"}, Docker(False))
    assert plan_services({"FEEDBACK_TEST_CONTAINERS": "ON"}, Docker(True)).kafka is Source.CONTAINER
    # nothing left for containers to do: explicit services need no Docker
    explicit = {
        "FEEDBACK_TEST_CONTAINERS": "on",
        "FEEDBACK_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "FEEDBACK_CLICKHOUSE_URL": SERVER,
    }
    assert plan_services(explicit, Docker(False)).kafka is Source.EXPLICIT


def test_an_unknown_mode_names_the_variable() -> None:
    with pytest.raises(ServiceSelectionError, match="FEEDBACK_TEST_CONTAINERS: 'maybe'"):
        plan_services({"FEEDBACK_TEST_CONTAINERS": "maybe"}, Docker(True))


def test_the_docker_probe_is_false_without_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # a socket path where no engine listens: the CLI may be installed, the engine is what counts
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_answers(timeout_s=1) is False
