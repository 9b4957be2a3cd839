"""OpenTelemetry: a ``chat.feedback.submitted`` event per explicit signal, off by default.

``FEEDBACK_OTEL_EXPORTER`` picks the exporter: ``none`` (default), ``console`` (one OTLP JSON
``LogRecord`` per line on stdout) or ``otlp`` (OTLP/HTTP with the JSON encoding, to the standard
``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``, with
``OTEL_EXPORTER_OTLP_[LOGS_]HEADERS``, ``…_TIMEOUT`` and ``…_COMPRESSION=gzip``).

The records arrive ready-made (ClickHouse builds them, ``consumers.announcements``): the worker
only queues them, and a thread of its own wraps them into export requests and sends them, with
retries. The queue is bounded: when the collector is down long enough to fill it, records are
dropped (and logged), never the worker blocked.
"""

from __future__ import annotations

import atexit
import gzip
import os
import queue
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

import httpx
import orjson
import structlog

EVENT_NAME = "chat.feedback.submitted"
EXPORTERS = ("none", "console", "otlp")
SCOPE = "feedback-pipeline"
# Batches of records waiting for the sending thread; beyond this they are dropped (and logged).
QUEUED_BATCHES = 64
RECORDS_PER_REQUEST = 1000  # ~1 MB of JSON: well under collectors' default request limits
RETRYABLE = {429, 502, 503, 504}  # as the OTLP/HTTP specification says
ATTEMPTS = 6
BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0

log = structlog.get_logger(__name__)


class Sink(Protocol):
    def send(self, records: Sequence[str]) -> None:
        """Deliver these records (OTLP JSON ``LogRecord``s); retries are the sink's own business."""
        ...

    def close(self) -> None: ...


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(item) for item in value]}}
    return {"stringValue": str(value)}


def resource_attributes() -> Mapping[str, Any]:
    """The process's resource, as the OpenTelemetry SDK makes it (``OTEL_SERVICE_NAME``,
    ``OTEL_RESOURCE_ATTRIBUTES``, the SDK's own attributes); ``feedback-pipeline`` unless named."""
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415 (only with telemetry on)

    attributes = dict(Resource.create().attributes)
    if str(attributes.get("service.name", "unknown_service")).startswith("unknown_service"):
        attributes["service.name"] = "feedback-pipeline"
    return attributes


class RequestFramer:
    """Wraps records in an OTLP ``ExportLogsServiceRequest`` (JSON encoding) for one resource."""

    PLACEHOLDER = "feedback-pipeline:records"

    def __init__(self, resource: Mapping[str, Any]) -> None:
        head = orjson.dumps(
            {
                "resourceLogs": [
                    {
                        "resource": {"attributes": [{"key": k, "value": _any_value(v)} for k, v in resource.items()]},
                        "scopeLogs": [{"scope": {"name": SCOPE}, "logRecords": [self.PLACEHOLDER]}],
                    }
                ]
            }
        )
        # the records come last: a resource value equal to the placeholder cannot be split on
        self._before, self._after = head.rsplit(orjson.dumps(self.PLACEHOLDER), 1)

    def body(self, records: Sequence[str]) -> bytes:
        return self._before + ",".join(records).encode() + self._after


def _env(name: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_LOGS_<name>``, else ``OTEL_EXPORTER_OTLP_<name>``."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_LOGS_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}")


def otlp_endpoint() -> str:
    if logs := os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"):
        return logs
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
    return base.rstrip("/") + "/v1/logs"


def otlp_headers() -> dict[str, str]:
    """``key=value`` pairs separated by commas, URL-encoded (the specification's format)."""
    headers = {}
    for pair in (_env("HEADERS") or "").split(","):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip())] = unquote(value.strip())
    return headers


class OtlpHttpSink:
    """POSTs export requests; retries 429/502/503/504 and connection errors with exponential
    backoff (honouring ``Retry-After``), then drops the request and logs it."""

    def __init__(self, resource: Mapping[str, Any] | None = None) -> None:
        self.endpoint = otlp_endpoint()
        self._framer = RequestFramer(resource_attributes() if resource is None else resource)
        self._gzip = (_env("COMPRESSION") or "none").lower() == "gzip"
        headers = {**otlp_headers(), "Content-Type": "application/json"}
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
        timeout_ms = float(_env("TIMEOUT") or 10_000)
        self._client = httpx.Client(headers=headers, timeout=timeout_ms / 1000)
        self._closing = threading.Event()

    def send(self, records: Sequence[str]) -> None:
        body = self._framer.body(records)
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
        for attempt in range(1, ATTEMPTS + 1):
            wait = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (attempt - 1))
            try:
                response = self._client.post(self.endpoint, content=body)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                if response.status_code not in RETRYABLE:
                    log.error(
                        "telemetry.refused", status=response.status_code, records=len(records), body=response.text[:300]
                    )
                    return
                reason = f"HTTP {response.status_code}"
                wait = _retry_after(response, wait)
            if attempt == ATTEMPTS or self._closing.wait(wait):
                log.error("telemetry.dropped", records=len(records), reason=reason, attempts=attempt)
                return
            log.warning("telemetry.retry", reason=reason, attempt=attempt, wait_s=wait)

    def close(self) -> None:
        self._closing.set()
        self._client.close()


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(MAX_BACKOFF_S, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


class ConsoleSink:
    """One OTLP JSON ``LogRecord`` per line on stdout."""

    def send(self, records: Sequence[str]) -> None:
        sys.stdout.write("".join(f"{record}\n" for record in records))
        sys.stdout.flush()

    def close(self) -> None:
        return None


class InMemorySink:
    """Keeps each export request as it would be sent (for tests: ``requests`` are the bodies)."""

    def __init__(self, resource: Mapping[str, Any] | None = None) -> None:
        self._framer = RequestFramer({"service.name": "feedback-pipeline"} if resource is None else resource)
        self._lock = threading.Lock()
        self.requests: list[bytes] = []

    def send(self, records: Sequence[str]) -> None:
        body = self._framer.body(records)
        with self._lock:
            self.requests.append(body)

    def close(self) -> None:
        return None


def _sink(name: str) -> Sink | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSink()
    if name == "otlp":
        return OtlpHttpSink()
    raise ValueError(f"FEEDBACK_OTEL_EXPORTER: {name!r}; expected one of {', '.join(EXPORTERS)}")


class FeedbackTelemetry:
    """Sends one event per explicit signal stored; costs nothing when no exporter is configured."""

    def __init__(self, exporter: str | Sink = "none") -> None:
        self._sink = _sink(exporter) if isinstance(exporter, str) else exporter
        self._queue: queue.Queue[list[str] | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._thread: threading.Thread | None = None
        if self._sink is not None:
            self._thread = threading.Thread(target=self._send_queued, name="feedback-telemetry", daemon=True)
            self._thread.start()
            atexit.register(self.shutdown)

    @property
    def enabled(self) -> bool:
        return self._sink is not None

    def submitted_many(self, records: Sequence[str]) -> None:
        """Queue these records for the sending thread; never blocks (a full queue drops them)."""
        if self._thread is None or not records:
            return
        try:
            self._queue.put_nowait(list(records))
        except queue.Full:
            log.warning("telemetry.dropped", records=len(records), reason="queue full (exporter behind)")

    def _send_queued(self) -> None:
        assert self._sink is not None
        while (records := self._queue.get()) is not None:
            for start in range(0, len(records), RECORDS_PER_REQUEST):
                try:
                    self._sink.send(records[start : start + RECORDS_PER_REQUEST])
                except Exception:  # one failed request must not stop the announcing
                    log.exception("telemetry.send_failed", records=len(records))

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Send what is queued, then stop (idempotent; also run at exit)."""
        if self._thread is not None and self._sink is not None:
            deadline = time.monotonic() + timeout_s
            try:
                self._queue.put(None, timeout=timeout_s)  # after what is queued: those are sent first
            except queue.Full:
                log.warning("telemetry.shutdown_dropped", reason="queue still full")
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._sink.close()
            self._thread = None
