"""Session fixtures: the real Kafka broker and ClickHouse (chdb, or a server by URL), started once.

Markers both select tests and guard services: a test that uses ``kafka_settings`` must be
marked ``kafka``, one that uses ``clickhouse`` must be marked ``clickhouse`` — else it fails loudly.
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
def broker_bootstrap(session_dir: Path) -> Iterator[str]:
    """FEEDBACK_KAFKA_BOOTSTRAP if set; else the local broker (reused when one already runs)."""
    configured = os.environ.get("FEEDBACK_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    broker = LocalBroker(home=Settings().kafka_home, data_dir=session_dir / "kafka")
    started = broker.start()
    yield broker.bootstrap
    if started:
        broker.stop()


@pytest.fixture(scope="session")
def base_settings(session_dir: Path, keys_file: Path) -> Settings:
    """Unique topics per session; ClickHouse from FEEDBACK_CLICKHOUSE_URL or a session chdb engine."""
    clickhouse_url = os.environ.get("FEEDBACK_CLICKHOUSE_URL", f"chdb://{session_dir / 'clickhouse'}")
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
    migrate(client, base_settings.clickhouse_database)
    return client
