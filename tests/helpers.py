"""Small helpers shared by the test suites."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "condition"
) -> T:
    """Poll until ``check`` returns something truthy; no fixed sleeps."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def event(kind: str = "thumbs", **fields: Any) -> dict[str, Any]:
    """A valid EVENT of the given type; ``fields`` override."""
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "timestamp": int(time.time() * 1000),
        "conversation_id": fields.pop("conversation_id", new_id("conv-")),
        "trace_id": new_id("trace-"),
        "message_id": new_id("msg-"),
        "user_id": "user-1",
    }
    defaults: dict[str, dict[str, Any]] = {
        "thumbs": {"value": "down", "reasons": ["hallucinated"]},
        "rating": {"value": 4},
        "comment": {"comment": "nice"},
        "dwell": {"dwell_ms": 1500},
        "copy": {"copied_chars": 42},
        "regenerate": {"attempt": 2},
        "edit": {"edited_text": "better", "edit_distance": 3},
    }
    base.update(defaults.get(kind, {}))
    base.update(fields)
    return base


def trace(trace_id: str, conversation_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trace_id": trace_id,
        "conversation_id": conversation_id,
        "model": "gpt-test",
        "model_version": "2026-11-01",
        "provider": "openai",
        "prompt_template": "support",
        "prompt_version": "v7",
        "feature": "chat",
        "latency_ms": 900,
        "input_tokens": 100,
        "output_tokens": 250,
    }
    base.update(fields)
    return base


def otlp_log_records(requests: list[bytes]) -> list[LogRecord]:
    """The log records of OTLP/HTTP JSON export requests, decoded by the official protobuf classes
    (which refuse anything that is not a valid ``ExportLogsServiceRequest``)."""
    records: list[LogRecord] = []
    for body in requests:
        request = json_format.Parse(body, ExportLogsServiceRequest())
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                records.extend(scope_logs.log_records)
    return records


def otlp_attributes(record: LogRecord) -> dict[str, Any]:
    """A decoded record's attributes as Python values (arrays as lists)."""

    def value(any_value: AnyValue) -> Any:
        kind = any_value.WhichOneof("value")
        if kind == "array_value":
            return [value(item) for item in any_value.array_value.values]
        assert kind is not None, "an attribute without a value"
        return getattr(any_value, kind)

    return {attribute.key: value(attribute.value) for attribute in record.attributes}
