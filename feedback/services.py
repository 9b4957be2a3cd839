"""Wiring: build the collector and the workers from the settings, and run them together."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from clickhouse_connect.driver.client import Client

from annotation.store import AnnotationStore
from consumers.dlq import DeadLetters
from consumers.dlq_limit import DlqLimit
from consumers.worker import BatchPolicy, Worker
from feedback.erasure import erase_in
from feedback.export_endpoint import ExportEndpoint
from operations.rejoining import RejoinEndpoint
from operations.replaying import ReplayEndpoint
from producers.app import Collector, create_app
from producers.delivery import DeliveryProducer
from producers.keys import KeyStore
from producers.query import QueryService
from producers.record_redaction import RecordRedaction
from producers.stats_api import stats_routes
from quality.dashboard_stats import Stats
from quality.loop import QualityLoop
from quality.pipeline_health import KafkaHealth
from runtime.kafka import connection_config, consumer_config, producer_config
from runtime.settings import Settings
from runtime.telemetry import FeedbackTelemetry
from schemas.vocabulary import WORKER_TOPIC_KINDS

log = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


def subject_resolver(settings: Settings) -> Callable[[str], str]:
    return settings.subject_of


def make_worker(
    settings: Settings,
    client: Client,
    *,
    group: str | None = None,
    topics: list[str] | None = None,
    stop: threading.Event | None = None,
    policy: BatchPolicy | None = None,
    database: str | None = None,
    extra_consumer_config: dict[str, Any] | None = None,
    telemetry: FeedbackTelemetry | None = None,
) -> Worker:
    return Worker(
        consumer_config(settings, group or settings.worker_group, **(extra_consumer_config or {})),
        topics or [settings.topic(kind) for kind in WORKER_TOPIC_KINDS],
        client,
        database or settings.clickhouse_database,
        DeadLetters(producer_config(settings), settings.topic("dlq")),
        subject_resolver(settings),
        policy=policy or BatchPolicy(settings.batch_max_messages, settings.batch_max_wait_s),
        stop=stop,
        registry=settings.registry(),
        telemetry=telemetry or FeedbackTelemetry(settings.otel_exporter),
        dlq_limit=DlqLimit(settings.dlq_max_share, settings.dlq_window, settings.dlq_min_messages),
    )


def start_quality_loop(settings: Settings, stop: threading.Event) -> threading.Thread | None:
    """Derived signals and regression alerts every FEEDBACK_QUALITY_INTERVAL_S, in this process
    (the job's code lives in quality/); None when the interval is 0."""
    return QualityLoop(settings, stop).start_in_thread()


def kafka_health(settings: Settings) -> KafkaHealth:
    """The dashboard's view of the workers' progress: their group's lag and the DLQ's size."""
    return KafkaHealth(
        connection_config(settings),
        settings.worker_group,
        [settings.topic(kind) for kind in WORKER_TOPIC_KINDS],
        settings.topic("dlq"),
    )


def make_collector(settings: Settings, with_query: bool = True, redaction: RecordRedaction | None = None) -> Collector:
    producer = DeliveryProducer(producer_config(settings), settings.produce_timeout_s, settings.retry_after_s)
    query = None
    annotations = None
    if with_query:
        query = QueryService(settings.clickhouse(), settings.clickhouse_database, settings.query_limits())
        annotations = AnnotationStore(lambda: settings.clickhouse().connect(database=settings.clickhouse_database))
    keys = KeyStore.load(settings.keys_file)
    keys.watch(settings.keys_reload_s)
    return Collector(
        settings,
        keys,
        producer,
        query,
        annotations=annotations,
        forget=erase_in(settings) if with_query else None,
        redaction=redaction,
    )


class _Server(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM once it has stopped, which would kill the process before
    the worker commits and the broker stops; ``CollectorServer`` handles the signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class CollectorServer:
    """The collector's uvicorn server; ``run()`` blocks. In the main thread, the first SIGINT or
    SIGTERM stops it gracefully (in-flight requests finish, the producer flushes), a second forces it."""

    def __init__(self, settings: Settings, collector: Collector) -> None:
        self.collector = collector
        self.health = kafka_health(settings)
        stats = (
            stats_routes(collector.keys, Stats(collector.query_service.queries.select, self.health))
            if collector.query_service is not None
            else []
        )
        # The operator's endpoints answer errors and count requests like every other endpoint.
        operator_endpoints = {
            "/v1/replay": ReplayEndpoint(settings, collector.keys).handle,
            "/v1/rejoin": RejoinEndpoint(settings, collector.keys).handle,
            "/v1/export": ExportEndpoint(settings, collector.keys).handle,
        }
        app = create_app(
            collector, static_root=REPO_ROOT / "sdk", extra_routes=stats, operator_endpoints=operator_endpoints
        )
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=30,
            limit_concurrency=settings.http_max_connections,
            # The collector reads X-Forwarded-For itself, from FEEDBACK_TRUSTED_PROXIES only
            # (uvicorn would otherwise believe any local peer's).
            proxy_headers=False,
        )
        self.server = _Server(config)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.server.should_exit:
            self.server.force_exit = True
        log.info("collector.stopping", signal=signal.Signals(signum).name)
        self.server.should_exit = True

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve on FEEDBACK_HTTP_ADDR, or on ``sockets`` already listening (several processes
        sharing a port: feedback/collector_processes.py)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._on_signal)
        try:
            self.server.run(sockets=sockets)
        finally:
            # Requests still waiting for acks were drained by uvicorn; flush whatever is queued.
            self.collector.producer.close()
            self.collector.keys.stop_watching()
            self.health.close()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="collector", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.should_exit = True
