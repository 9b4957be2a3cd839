"""A running pipeline in this process: the collector on a free port and one worker, on the real
broker and the session's ClickHouse, for the whole session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from feedback.services import CollectorServer, make_collector, make_worker
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from tests.conftest import KEYS
from tests.helpers import free_port, wait_for


@dataclass
class RunningPipeline:
    settings: Settings
    http: httpx.Client
    client: Client

    def post(self, path: str, body: Any, key: str = "public", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KEYS[key]}", **kwargs.pop("headers", {})}
        return self.http.post(path, json=body, headers=headers, **kwargs)

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.client.query(sql, parameters=parameters).result_rows]

    def wait_rows(self, sql: str, count: int, timeout_s: float = 30, **parameters: Any) -> list[tuple[Any, ...]]:
        def enough() -> list[tuple[Any, ...]] | None:
            rows = self.rows(sql, **parameters)
            return rows if len(rows) >= count else None

        return wait_for(enough, timeout_s, what=f"{count} rows of {sql}")


@pytest.fixture(scope="session")
def _pipeline(broker_bootstrap: str, base_settings: Settings) -> Iterator[RunningPipeline]:
    settings = base_settings.model_copy(
        update={"kafka_bootstrap": broker_bootstrap, "http_addr": f"127.0.0.1:{free_port()}"}
    )
    ensure_topics(settings)
    migrate(settings.clickhouse().connect(), settings.clickhouse_database, cluster=settings.clickhouse_cluster)
    client = settings.clickhouse().connect(database=settings.clickhouse_database)
    server = CollectorServer(settings, make_collector(settings))
    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    worker_thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    worker_thread.start()
    server_thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"
    wait_for(lambda: _ok(f"{base}/healthz"), 30, what="collector up")
    with httpx.Client(base_url=base, timeout=30) as http:
        yield RunningPipeline(settings, http, client)
    server.stop()
    server_thread.join(30)
    stop.set()
    worker_thread.join(30)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def pipeline(request: pytest.FixtureRequest, _pipeline: RunningPipeline) -> RunningPipeline:
    for marker in ("kafka", "clickhouse"):
        if request.node.get_closest_marker(marker) is None:
            pytest.fail(f"{request.node.nodeid} uses the running pipeline but is not marked @pytest.mark.{marker}")
    return _pipeline
