"""OpenTelemetry: a ``chat.feedback.submitted`` event per explicit signal, off by default.

``FEEDBACK_OTEL_EXPORTER`` picks the exporter: ``none`` (default), ``console`` or ``otlp``
(OTLP over HTTP; endpoint from the standard ``OTEL_EXPORTER_OTLP_*`` variables).
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

EVENT_NAME = "chat.feedback.submitted"
EXPORTERS = ("none", "console", "otlp")
# The stored event columns an announcement reads (the worker fetches only these).
SIGNAL_FIELDS = (
    "type", "event_id", "tenant_id", "conversation_id", "trace_id", "message_id", "thumb", "rating", "reasons",
    "comment", "trace_joined", "model", "provider", "model_version", "prompt_version", "feature", "latency_ms",
    "tool_count", "retrieval_count", "ts",
)  # fmt: skip
# Batches of signals waiting for the emitting thread; beyond this they are dropped (and logged),
# as the SDK's own batch processor drops records when its queue is full.
QUEUED_BATCHES = 64

log = structlog.get_logger(__name__)


def _exporter(name: str) -> LogRecordExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleLogRecordExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter  # noqa: PLC0415 (optional path)

        return OTLPLogExporter()
    raise ValueError(f"FEEDBACK_OTEL_EXPORTER: {name!r}; expected one of {', '.join(EXPORTERS)}")


class FeedbackTelemetry:
    """Emits one event per explicit signal stored; costs nothing when no exporter is configured.

    The worker hands each batch's signals over (``submitted_many``) and goes on: a thread of its
    own builds the records (the SDK checks every attribute of every record, ~50 µs each), so the
    worker's batches do not wait for it.
    """

    def __init__(self, exporter: str | LogRecordExporter = "none", batch: bool = True) -> None:
        chosen = _exporter(exporter) if isinstance(exporter, str) else exporter
        self._provider: LoggerProvider | None = None
        self._queue: queue.Queue[list[Mapping[str, Any]] | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._thread: threading.Thread | None = None
        if chosen is not None:
            # our own exit hook drains the queue, then shuts the provider down (flushing the SDK)
            self._provider = LoggerProvider(
                resource=Resource.create({"service.name": "feedback-pipeline"}), shutdown_on_exit=False
            )
            processor = BatchLogRecordProcessor(chosen) if batch else SimpleLogRecordProcessor(chosen)
            self._provider.add_log_record_processor(processor)
            self._logger = self._provider.get_logger("feedback-pipeline")
            self._thread = threading.Thread(target=self._emit_queued, name="feedback-telemetry", daemon=True)
            self._thread.start()
            atexit.register(self.shutdown)

    def submitted_many(self, signals: Sequence[Mapping[str, Any]]) -> None:
        """Queue these signals for the emitting thread; never blocks (a full queue drops them)."""
        if self._thread is None or not signals:
            return
        try:
            self._queue.put_nowait(list(signals))
        except queue.Full:
            log.warning("telemetry.dropped", signals=len(signals), reason="emitting thread behind")

    def _emit_queued(self) -> None:
        while (signals := self._queue.get()) is not None:
            for signal in signals:
                try:
                    self.submitted(signal)
                except Exception:  # one bad record must not stop announcing
                    log.exception("telemetry.emit_failed", event_id=signal.get("event_id"))

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def submitted(self, signal: Mapping[str, Any]) -> None:
        """``signal``: a stored event's columns (type, value, reasons, trace_id, model, ...). The
        trace's latency, tool count and retrieved documents come with it when the event is joined."""
        if self._provider is None:
            return
        attributes = {
            "feedback.type": signal["type"],
            "feedback.event_id": signal["event_id"],
            "feedback.tenant_id": signal["tenant_id"],
            "feedback.conversation_id": signal["conversation_id"],
            "feedback.trace_id": signal["trace_id"],
            "feedback.message_id": signal["message_id"],
            "feedback.thumb": signal["thumb"],
            "feedback.rating": signal["rating"],
            "feedback.reasons": list(signal["reasons"]),
            "feedback.has_comment": bool(signal["comment"]),
            "feedback.trace_joined": bool(signal["trace_joined"]),
            "gen_ai.request.model": signal["model"],
            "gen_ai.provider.name": signal["provider"],
            "feedback.model_version": signal["model_version"],
            "feedback.prompt_version": signal["prompt_version"],
            "feedback.feature": signal["feature"],
            "feedback.latency_ms": signal["latency_ms"],
            "feedback.tool_count": signal["tool_count"],
            "feedback.retrieval_source_count": signal["retrieval_count"],
        }
        self._logger.emit(
            event_name=EVENT_NAME,
            timestamp=int(signal["ts"].timestamp() * 1e9) if hasattr(signal["ts"], "timestamp") else None,
            attributes={k: v for k, v in attributes.items() if v is not None and v != []},
        )

    def shutdown(self) -> None:
        """Emit what is queued, flush the exporter and stop (idempotent; also run at exit)."""
        if self._thread is not None:
            self._queue.put(None)  # after what is queued: those are emitted first
            self._thread.join(timeout=10)
            self._thread = None
            if self._provider is not None:
                self._provider.shutdown()
