"""``feedback collector --processes N``: several processes on one port, through real Kafka into
ClickHouse; metrics summed over the processes; a port in use refused."""

from __future__ import annotations

import re
import signal
import socket
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from feedback.services import make_worker
from runtime.kafka import ensure_topics
from runtime.migrations import migrate
from runtime.settings import Settings
from tests.conftest import KEYS
from tests.helpers import event, free_port, new_id, wait_for
from tests.integration.processes import feedback_env, run_feedback, start_feedback

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

# The collector processes never read ClickHouse here; a server URL (nothing listens there) is what
# lets several processes run: the session's embedded engine belongs to this test process.
UNUSED_SERVER = "http://127.0.0.1:1"


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _collector_processes(pid: int) -> list[int]:
    """The collector processes (not multiprocessing's resource tracker)."""
    return [child for child in _children(pid) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_two_processes_share_the_port_and_lose_nothing(
    tmp_path: Path, kafka_settings: Settings, clickhouse: Client
) -> None:
    # topics and a database of its own: the session's database is what the replay tests rebuild
    # from the session's topics
    settings = kafka_settings.model_copy(
        update={"topic_prefix": f"procs-{new_id()}.", "clickhouse_database": f"procs_{uuid.uuid4().hex[:8]}"}
    )
    ensure_topics(settings)
    migrate(clickhouse, settings.clickhouse_database)
    port = free_port()
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_KEYS_FILE=str(settings.keys_file),
        FEEDBACK_TOPIC_PREFIX=settings.topic_prefix,
        FEEDBACK_CLICKHOUSE_URL=UNUSED_SERVER,
        FEEDBACK_RATE_LIMIT_USER_PER_S="0",
        FEEDBACK_RATE_LIMIT_ADDRESS_PER_S="0",
    )
    log = tmp_path / "collector.log"
    collector = start_feedback("collector", "--processes", "2", env=env, cwd=tmp_path, log=log)
    base = f"http://127.0.0.1:{port}"
    sent: list[str] = []
    try:
        wait_for(lambda: len(_collector_processes(collector.pid)) == 2, 120, what="two collector processes")
        # Each process answers once it has bound the port: wait until both have (two processes, so
        # 20 new connections all reaching one would be a 1-in-500,000 chance).
        wait_for(lambda: all(_ready(f"{base}/readyz") for _ in range(20)), 240, what="both processes ready")
        for _ in range(40):  # a new connection each: the kernel spreads them over the processes
            batch = [event("copy") for _ in range(5)]
            response = httpx.post(
                f"{base}/v1/events", json={"events": batch}, headers={"Authorization": f"Bearer {KEYS['public']}"}
            )
            assert response.status_code == 202, response.text
            sent.extend(item["event_id"] for item in batch)
        for _ in range(5):  # whichever process answers the scrape, it counts every process's requests
            metrics = httpx.get(f"{base}/metrics").text
            assert _metric(metrics, "feedback_items_accepted_total", 'kind="event"') == 200
            assert _metric(metrics, "feedback_http_requests_total", 'route="/v1/events",status="202"') == 40
            assert _metric(metrics, "feedback_http_in_flight", "") == 0
        processes = _collector_processes(collector.pid)
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(90) == 0, log.read_text()[-3000:]
    assert not any(Path(f"/proc/{pid}").exists() for pid in processes), "a collector process outlived its parent"

    stop = threading.Event()
    worker = make_worker(settings, settings.clickhouse().connect(), stop=stop)
    thread = threading.Thread(target=worker.run, name="procs-worker", daemon=True)
    thread.start()
    try:
        sql = f"SELECT event_id FROM {settings.clickhouse_database}.events_log WHERE event_id IN %(ids)s"

        def stored() -> list[str] | None:
            rows = [str(row[0]) for row in clickhouse.query(sql, parameters={"ids": sent}).result_rows]
            return rows if len(rows) >= len(sent) else None

        rows = wait_for(stored, 90, what="every acknowledged event in ClickHouse")
    finally:
        stop.set()
        thread.join(60)
    assert sorted(rows) == sorted(sent)  # each once


def test_a_port_in_use_is_an_error(tmp_path: Path, kafka_settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = feedback_env(
            FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap,
            FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
            FEEDBACK_KEYS_FILE=str(kafka_settings.keys_file),
            FEEDBACK_TOPIC_PREFIX=f"procs-{new_id()}.",
            FEEDBACK_CLICKHOUSE_URL=UNUSED_SERVER,
        )
        result = run_feedback("collector", "--processes", "2", env=env, cwd=tmp_path, timeout=180)
    assert result.returncode == 1
    assert f"FEEDBACK_HTTP_ADDR 127.0.0.1:{port}: cannot listen there" in result.stderr


def test_an_embedded_engine_takes_one_process(tmp_path: Path, kafka_settings: Settings) -> None:
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{free_port()}",
        FEEDBACK_KEYS_FILE=str(kafka_settings.keys_file),
        FEEDBACK_CLICKHOUSE_URL=f"chdb://{tmp_path / 'engine'}",
    )
    result = run_feedback("collector", "--processes", "2", env=env, cwd=tmp_path, timeout=180)
    assert result.returncode == 1
    assert "--processes 2: the embedded ClickHouse" in result.stderr
