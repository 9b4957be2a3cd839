"""Which Kafka and which ClickHouse the integration suite runs against (tests/conftest.py).

For each service, the first that applies:

1. **explicit**: ``FEEDBACK_KAFKA_BOOTSTRAP`` / ``FEEDBACK_CLICKHOUSE_URL`` name an existing broker or
   ClickHouse (a server or a cluster; with ``FEEDBACK_CLICKHOUSE_CLUSTER`` too), used as they are;
2. **container**: a Docker engine answers — testcontainers starts Kafka and a ClickHouse *server*,
   so the suite runs the ``http://`` path users run in production;
3. **local**: the local broker (``runtime.local_kafka``) and the embedded engine (chdb), as in CI.

``FEEDBACK_TEST_CONTAINERS``: ``auto`` (the default) as above, ``off`` never asks Docker, ``on``
makes a missing Docker engine an error instead of a quiet fallback to the local services.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from testcontainers.core.docker_client import DockerClient

MODES = ("auto", "on", "off")


class Source(StrEnum):
    EXPLICIT = "explicit"
    CONTAINER = "container"
    LOCAL = "local"


class ServiceSelectionError(Exception):
    """The environment asks for something the machine cannot give (the message says what)."""


@dataclass(frozen=True)
class ServicePlan:
    kafka: Source
    clickhouse: Source
    kafka_bootstrap: str | None = None  # explicit only
    clickhouse_url: str | None = None  # explicit only

    @property
    def clickhouse_server(self) -> bool:
        """Whether the suite talks to a ClickHouse server (``http(s)://``), not the embedded engine."""
        if self.clickhouse is Source.EXPLICIT:
            return (self.clickhouse_url or "").startswith(("http://", "https://"))
        return self.clickhouse is Source.CONTAINER


def plan_services(environ: Mapping[str, str], docker_answers: Callable[[], bool]) -> ServicePlan:
    """The plan for this environment; ``docker_answers`` is asked only when a service needs it."""
    mode = environ.get("FEEDBACK_TEST_CONTAINERS", "").strip().lower() or "auto"
    if mode not in MODES:
        raise ServiceSelectionError(f"FEEDBACK_TEST_CONTAINERS: {mode!r}, expected one of {', '.join(MODES)}")
    bootstrap = environ.get("FEEDBACK_KAFKA_BOOTSTRAP", "").strip() or None
    url = environ.get("FEEDBACK_CLICKHOUSE_URL", "").strip() or None
    containers = False
    if mode != "off" and (bootstrap is None or url is None):
        containers = docker_answers()
        if mode == "on" and not containers:
            raise ServiceSelectionError(
                "FEEDBACK_TEST_CONTAINERS=on but no Docker engine answers (DOCKER_HOST, or the default socket)"
            )
    otherwise = Source.CONTAINER if containers else Source.LOCAL
    return ServicePlan(
        kafka=Source.EXPLICIT if bootstrap else otherwise,
        clickhouse=Source.EXPLICIT if url else otherwise,
        kafka_bootstrap=bootstrap,
        clickhouse_url=url,
    )


def docker_answers(timeout_s: float = 5.0) -> bool:
    """Whether a Docker engine answers a ping (the CLI alone is not enough: it needs an engine)."""
    try:
        client = DockerClient(timeout=timeout_s).client
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no engine, no permission: the local services
        return False
