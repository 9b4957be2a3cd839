"""Kafka and a ClickHouse server in containers (testcontainers), for a suite on a machine with Docker
(tests/services.py decides). The images are docker-compose.yml's."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from testcontainers.core.container import DockerContainer
from testcontainers.core.docker_client import DockerClient

from runtime.local_kafka import metadata_ok
from tests.helpers import free_port, wait_for

KAFKA_IMAGE = "apache/kafka:4.1.1"
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:25.8"
STARTUP_S = 180  # a first run pulls the images


@contextmanager
def kafka_container(max_message_bytes: int) -> Iterator[str]:
    """A one-node KRaft broker configured as the local broker is (runtime/local_kafka.py); yields
    its bootstrap address. The host port is chosen first: the broker must advertise it."""
    host, port = DockerClient().host(), free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_envs(
            CLUSTER_ID="MkU3OEVBNTcwNTJENDM2Qk",
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            # the tests reach EXTERNAL through the mapped port; the broker itself uses INTERNAL
            KAFKA_LISTENERS="EXTERNAL://:9092,INTERNAL://:19092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"EXTERNAL://{host}:{port},INTERNAL://localhost:19092",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
            KAFKA_INTER_BROKER_LISTENER_NAME="INTERNAL",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_NUM_PARTITIONS="6",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS="6",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_MESSAGE_MAX_BYTES=str(max_message_bytes),
        )
    )
    with container:
        bootstrap = f"{host}:{port}"
        wait_for(lambda: metadata_ok(bootstrap), STARTUP_S, what=f"Kafka container on {bootstrap}")
        yield bootstrap


@contextmanager
def clickhouse_container() -> Iterator[str]:
    """A ClickHouse server; yields its ``http://user:password@host:port`` URL (the HTTP interface,
    as FEEDBACK_CLICKHOUSE_URL takes it)."""
    password = secrets.token_hex(8)
    container = (
        DockerContainer(CLICKHOUSE_IMAGE)
        .with_exposed_ports(8123)
        .with_envs(CLICKHOUSE_USER="feedback", CLICKHOUSE_PASSWORD=password)
    )
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
        wait_for(lambda: _answers(f"http://{host}:{port}/ping"), STARTUP_S, what="ClickHouse container")
        yield f"http://feedback:{password}@{host}:{port}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
