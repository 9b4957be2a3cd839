"""Session fixtures: the real Kafka broker and ClickHouse, started once — given by the environment,
in containers where Docker runs, else the local broker and the embedded engine (tests/services.py).

Markers both select tests and guard services: a test that uses ``kafka_settings`` must be
marked ``kafka``, one that uses ``clickhouse`` must be marked ``clickhouse`` — else it fails loudly.
A test marked ``chdb`` checks the embedded engine itself and is skipped on a ClickHouse server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from runtime.local_kafka import LocalBroker
from runtime.logs import configure_logging
from runtime.migrations import migrate
from runtime.settings import Settings
from tests.containers import clickhouse_container, kafka_container
from tests.services import ServicePlan, Source, docker_answers, plan_services

configure_logging("console", os.environ.get("FEEDBACK_TEST_LOG_LEVEL", "warning"))

KEYS = {
    "public": "pk_test_acme",
    "public_restricted": "pk_test_acme_origin",
    "secret": "sk_test_acme",
    "other_secret": "sk_test_globex",
    "admin": "ak_test_admin",
    "analyst": "an_test_acme",
    "other_analyst": "an_test_globex",
    # tenants of their own for tests that need exactly their rows (exports)
    "initech_secret": "sk_test_initech",
    "umbrella_secret": "sk_test_umbrella",
    "initech_analyst": "nk_test_initech",
    "hooli_secret": "sk_test_hooli",  # annotation queues
}


def _guard(request: pytest.FixtureRequest, marker: str) -> None:
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(f"{request.node.nodeid} uses {marker} but is not marked @pytest.mark.{marker}")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback")


@pytest.fixture(scope="session")
def keys_file(session_dir: Path) -> Path:
    path = session_dir / "keys.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {"key": KEYS["public"], "tenant": "acme", "kind": "public"},
                    {
                        "key": KEYS["public_restricted"],
                        "tenant": "acme",
                        "kind": "public",
                        "origins": ["https://app.acme.com"],
                    },
                    {"key": KEYS["secret"], "tenant": "acme", "kind": "secret"},
                    {"key": KEYS["other_secret"], "tenant": "globex", "kind": "secret"},
                    {"key": KEYS["admin"], "kind": "admin"},
                    {"key": KEYS["analyst"], "tenant": "acme", "kind": "analyst"},
                    {"key": KEYS["other_analyst"], "tenant": "globex", "kind": "analyst"},
                    {"key": KEYS["initech_secret"], "tenant": "initech", "kind": "secret"},
                    {"key": KEYS["umbrella_secret"], "tenant": "umbrella", "kind": "secret"},
                    {"key": KEYS["initech_analyst"], "tenant": "initech", "kind": "analyst"},
                    {"key": KEYS["hooli_secret"], "tenant": "hooli", "kind": "secret"},
                ]
            }
        )
    )
    return path


@pytest.fixture(scope="session")
def service_plan() -> ServicePlan:
    return plan_services(os.environ, docker_answers)


@pytest.fixture(autouse=True)
def _embedded_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("chdb") is None:
        return
    plan: ServicePlan = request.getfixturevalue("service_plan")
    if plan.clickhouse_server:
        pytest.skip("checks the embedded engine (chdb); this session runs against a ClickHouse server")


@pytest.fixture(scope="session")
def broker_bootstrap(session_dir: Path, service_plan: ServicePlan) -> Iterator[str]:
    """FEEDBACK_KAFKA_BOOTSTRAP if set; else a Kafka container where Docker runs; else the local
    broker (reused when one already runs)."""
    if service_plan.kafka_bootstrap is not None:
        yield service_plan.kafka_bootstrap
        return
    if service_plan.kafka is Source.CONTAINER:
        with kafka_container(Settings().kafka_max_message_bytes) as bootstrap:
            yield bootstrap
        return
    broker = LocalBroker(home=Settings().kafka_home, data_dir=session_dir / "kafka")
    started = broker.start()
    yield broker.bootstrap
    if started:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_url(session_dir: Path, service_plan: ServicePlan) -> Iterator[str]:
    """FEEDBACK_CLICKHOUSE_URL if set; else a ClickHouse server container where Docker runs; else
    a session chdb engine."""
    if service_plan.clickhouse_url is not None:
        yield service_plan.clickhouse_url
        return
    if service_plan.clickhouse is Source.CONTAINER:
        with clickhouse_container() as url:
            yield url
        return
    yield f"chdb://{session_dir / 'clickhouse'}"


@pytest.fixture(scope="session")
def base_settings(session_dir: Path, keys_file: Path, clickhouse_url: str) -> Settings:
    """Unique topics and database per session, on the session's ClickHouse (FEEDBACK_CLICKHOUSE_CLUSTER,
    if set, comes from the environment as for any Settings)."""
    return Settings(
        clickhouse_url=SecretStr(clickhouse_url),
        clickhouse_database=f"test_{uuid.uuid4().hex[:8]}",
        keys_file=keys_file,
        topic_prefix=f"test-{uuid.uuid4().hex[:8]}.",
        topic_partitions=3,
        produce_timeout_s=5,
        batch_max_wait_s=0.05,
        # The suites send far more than one person or one address would (all from 127.0.0.1, many
        # as user-1); the per-user and per-address limits have tests of their own.
        rate_limit_user_per_s=0,
        rate_limit_address_per_s=0,
    )


@pytest.fixture
def kafka_settings(request: pytest.FixtureRequest, broker_bootstrap: str, base_settings: Settings) -> Settings:
    _guard(request, "kafka")
    return base_settings.model_copy(update={"kafka_bootstrap": broker_bootstrap})


@pytest.fixture
def clickhouse(request: pytest.FixtureRequest, base_settings: Settings) -> Client:
    _guard(request, "clickhouse")
    client = base_settings.clickhouse().connect()
    migrate(client, base_settings.clickhouse_database, cluster=base_settings.clickhouse_cluster)
    return client
