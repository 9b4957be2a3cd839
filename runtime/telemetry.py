"""OpenTelemetry: a ``chat.feedback.submitted`` event per explicit signal, off by default.

``FEEDBACK_OTEL_EXPORTER`` picks the exporter: ``none`` (default), ``console`` or ``otlp``
(OTLP over HTTP; endpoint from the standard ``OTEL_EXPORTER_OTLP_*`` variables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    """Emits one event per explicit signal stored; costs nothing when no exporter is configured."""

    def __init__(self, exporter: str | LogRecordExporter = "none", batch: bool = True) -> None:
        chosen = _exporter(exporter) if isinstance(exporter, str) else exporter
        self._provider: LoggerProvider | None = None
        if chosen is not None:
            self._provider = LoggerProvider(resource=Resource.create({"service.name": "feedback-pipeline"}))
            processor = BatchLogRecordProcessor(chosen) if batch else SimpleLogRecordProcessor(chosen)
            self._provider.add_log_record_processor(processor)
            self._logger = self._provider.get_logger("feedback-pipeline")

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
        if self._provider is not None:
            self._provider.shutdown()
