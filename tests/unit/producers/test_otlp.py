"""OTLP GenAI spans → TRACE: spans made by the real OpenTelemetry SDK, encoded by its OTLP encoder."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue
from starlette.testclient import TestClient

from producers import otlp
from producers.app import Collector, create_app
from producers.errors import BadRequest
from producers.keys import KeyStore
from runtime.settings import Settings
from schemas.models import TraceIn
from tests.unit.producers.fakes import AckingProducer

RESOURCE = {"service.name": "support-bot", "service.version": "1.4.2", "deployment.environment.name": "prod"}


@pytest.fixture
def spans() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def export_of(exporter: InMemorySpanExporter) -> ExportTraceServiceRequest:
    return encode_spans(exporter.get_finished_spans())


def chat(tracer: Tracer, **attributes: Any) -> None:
    base: dict[str, AttributeValue | None] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 42,
        "gen_ai.conversation.id": "conv-1",
        "feedback.message_id": "msg-1",
        "feedback.prompt_version": "v7",
        "feedback.feature": "support",
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                {"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]},
            ]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "It ships today."}], "finish_reason": "stop"}]
        ),
    }
    base.update(attributes)
    with tracer.start_as_current_span("chat gpt-4o", attributes={k: v for k, v in base.items() if v is not None}):
        pass


def test_a_chat_span_becomes_a_trace(spans: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span("POST /answer"):  # not GenAI: ignored
        chat(tracer, **{"feedback.properties.plan": "pro", "gen_ai.response.time_to_first_chunk": 0.25})
    mapped = otlp.traces_of(export_of(exporter))
    assert mapped.rejected_spans == 0
    assert mapped.span_counts == [1]
    [item] = mapped.items
    span = next(s for s in exporter.get_finished_spans() if s.name.startswith("chat"))
    # an ended span has both times
    assert span.start_time is not None
    assert span.end_time is not None
    assert item["trace_id"] == f"{span.context.trace_id:032x}"
    assert item["timestamp"] == span.start_time // 1_000_000
    assert item["latency_ms"] == (span.end_time - span.start_time) // 1_000_000
    assert item | {"trace_id": None, "timestamp": None, "latency_ms": None} == {
        "trace_id": None,
        "timestamp": None,
        "latency_ms": None,
        "conversation_id": "conv-1",
        "message_id": "msg-1",
        "model": "gpt-4o",
        "model_version": "gpt-4o-2024-08-06",
        "provider": "openai",
        "deployment": "1.4.2",
        "prompt_version": "v7",
        "feature": "support",
        "environment": "prod",
        "input_tokens": 120,
        "output_tokens": 42,
        "time_to_first_token_ms": 250,
        "input_text": "Where is my order?",
        "output_text": "It ships today.",
        "properties": {"plan": "pro"},
    }
    TraceIn.model_validate(item)


def test_an_agent_with_tools_folds_into_one_trace(spans: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span(
        "invoke_agent helper",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-2"},
    ):
        chat(tracer, **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})
        with tracer.start_as_current_span(
            "execute_tool lookup_order",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"},
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "order service timed out"))
        with tracer.start_as_current_span("execute_tool search", attributes={"gen_ai.operation.name": "execute_tool"}):
            pass
        chat(tracer, **{"gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 7})
    [item] = otlp.traces_of(export_of(exporter)).items
    assert item["conversation_id"] == "conv-2"  # the agent span's own attribute wins
    assert item["message_id"] == "msg-1"  # found on its model calls
    assert (item["input_tokens"], item["output_tokens"]) == (40, 12)  # the agent has none: sum of its calls
    assert [(t["name"], t["success"], t["error"]) for t in item["tools"]] == [
        ("lookup_order", False, "order service timed out"),
        ("search", True, None),
    ]
    assert "error" not in item  # a failed tool is not a failed response
    TraceIn.model_validate(item)


def test_a_failed_call_and_our_own_ids(spans: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span(
        "chat",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "anthropic",  # the older name still maps to provider
            "feedback.conversation_id": "conv-3",
            "feedback.trace_id": "app-trace-9",
            "feedback.retrieval.doc_ids": ["d1", "d2"],
            "feedback.retrieval.scores": [0.9, 0.4],
            "feedback.moderation_flags": ["pii"],
            "feedback.retry_count": 2,
            "gen_ai.request.stream": True,
            "error.type": "timeout",
        },
    ) as span:
        span.set_status(Status(StatusCode.ERROR))
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hello?"})
    [item] = otlp.traces_of(export_of(exporter)).items
    assert item["trace_id"] == "app-trace-9"
    assert item["provider"] == "anthropic"
    assert item["error"] == "timeout"
    assert item["retrieval"] == {"doc_ids": ["d1", "d2"], "scores": [0.9, 0.4]}
    assert (item["moderation_flags"], item["retry_count"], item["streaming"]) == (["pii"], 2, True)
    assert item["input_text"] == "hello?"
    TraceIn.model_validate(item)


def test_lone_tool_spans_are_rejected_and_plain_spans_ignored(spans: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span("GET /healthz"):
        pass
    with tracer.start_as_current_span("execute_tool x", attributes={"gen_ai.operation.name": "execute_tool"}):
        pass
    mapped = otlp.traces_of(export_of(exporter))
    assert mapped.items == []
    assert mapped.rejected_spans == 1
    assert "execute_tool spans without their GenAI operation span" in mapped.errors[0]


def test_embeddings_alone_are_ignored_but_retrieval_feeds_the_response(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    with tracer.start_as_current_span("embeddings", attributes={"gen_ai.operation.name": "embeddings"}):
        pass  # an indexing job: no response to rate, no rejection either
    assert otlp.traces_of(export_of(exporter)) == otlp.Mapped()
    exporter.clear()
    with tracer.start_as_current_span("answer"):
        with tracer.start_as_current_span(
            "retrieval kb",
            attributes={
                "gen_ai.operation.name": "retrieval",
                "gen_ai.retrieval.documents": json.dumps(
                    [{"id": "doc-1", "score": 0.8}, {"id": "doc-2", "score": 0.5}]
                ),
            },
        ):
            pass
        chat(tracer)
    mapped = otlp.traces_of(export_of(exporter))
    assert mapped.span_counts == [2]
    assert mapped.items[0]["retrieval"] == {"doc_ids": ["doc-1", "doc-2"], "scores": [0.8, 0.5]}


def test_rejections_name_the_attributes_to_set() -> None:
    assert otlp.explained(["conversation_id: required", "input_tokens: too big", "tools.0.name: bad"]) == (
        "conversation_id: required (from gen_ai.conversation.id or feedback.conversation_id); "
        "input_tokens: too big (from gen_ai.usage.input_tokens or gen_ai.usage.prompt_tokens); tools.0.name: bad"
    )


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The OTLP JSON encoding: the protobuf JSON mapping with hex trace and span ids."""
    body = MessageToDict(request)
    for resource_spans in body["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for name in ("traceId", "spanId", "parentSpanId"):
                    if name in span:
                        span[name] = base64.b64decode(span[name]).hex()
    return body


def test_otlp_json_decodes_hex_ids(spans: tuple[Tracer, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    chat(tracer)
    request = export_of(exporter)
    assert otlp.from_json(otlp_json(request)) == request
    body = otlp_json(request)
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-hex"
    with pytest.raises(BadRequest, match=r"resourceSpans\.0\.scopeSpans\.0\.spans\.0\.traceId: expected a hex id"):
        otlp.from_json(body)


@pytest.mark.parametrize(
    ("messages", "last_user_only", "text"),
    [
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], True, "a"),
        ([{"role": "assistant", "parts": [{"type": "text", "content": "b"}, {"type": "tool_call"}]}], False, "b"),
        ({"role": "assistant", "content": "c"}, False, "c"),
        ("plain", True, "plain"),
        (42, True, None),
    ],
)
def test_messages_text(messages: Any, last_user_only: bool, text: str | None) -> None:
    assert otlp.messages_text(messages, last_user_only) == text


# -- over HTTP, with a producer that acknowledges at once ---------------------------------------


@pytest.fixture
def http() -> tuple[TestClient, AckingProducer]:
    keys = KeyStore.load(Path(__file__).parent / "keys.sample.json")
    producer = AckingProducer()
    app = create_app(Collector(Settings(rate_limit_key_per_s=0, rate_limit_user_per_s=0), keys, producer))
    return TestClient(app), producer


def test_protobuf_export_answers_protobuf(
    spans: tuple[Tracer, InMemorySpanExporter], http: tuple[TestClient, AckingProducer]
) -> None:
    tracer, exporter = spans
    chat(tracer)
    chat(tracer, **{"gen_ai.conversation.id": None})  # no conversation: rejected, with the reason
    client, producer = http
    response = client.post(
        "/v1/traces",
        content=gzip.compress(export_of(exporter).SerializeToString()),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", "Authorization": "Bearer sk_1"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "conversation_id: required" in answer.partial_success.error_message
    assert len(producer.sent) == 1


def test_json_export_answers_json(
    spans: tuple[Tracer, InMemorySpanExporter], http: tuple[TestClient, AckingProducer]
) -> None:
    tracer, exporter = spans
    chat(tracer)
    client, producer = http
    response = client.post("/v1/traces", json=otlp_json(export_of(exporter)), headers={"Authorization": "Bearer sk_1"})
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == {}  # full success: no partial_success
    assert len(producer.sent) == 1


@pytest.mark.parametrize(
    ("key", "body", "status", "code"),
    [
        (None, b"\n\x00", 401, 16),  # one empty ResourceSpans
        ("pk_1", b"\n\x00", 403, 7),
        ("sk_1", b"\xff\xff\xff", 400, 3),
    ],
)
def test_protobuf_errors_are_rpc_statuses(
    http: tuple[TestClient, AckingProducer], key: str | None, body: bytes, status: int, code: int
) -> None:
    client, _ = http
    headers = {"Content-Type": "application/x-protobuf"} | ({"Authorization": f"Bearer {key}"} if key else {})
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == status
    rpc = RpcStatus.FromString(response.content)
    assert rpc.code == code
    assert rpc.message


def test_protobuf_exports_may_exceed_the_json_body_limit(
    spans: tuple[Tracer, InMemorySpanExporter], http: tuple[TestClient, AckingProducer]
) -> None:
    # OTLP exporters cannot split a batch a 413 refused: their limit is otlp_max_body_bytes.
    tracer, exporter = spans
    for _ in range(12):
        with tracer.start_as_current_span("log line", attributes={"blob": "x" * 100_000}):
            pass
    chat(tracer)
    body = export_of(exporter).SerializeToString()
    assert len(body) > Settings().max_body_bytes
    client, producer = http
    headers = {"Content-Type": "application/x-protobuf", "Authorization": "Bearer sk_1"}
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 200
    assert len(producer.sent) == 1
    too_big = client.post("/v1/traces", content=b"\n" * (Settings().otlp_max_body_bytes + 1), headers=headers)
    assert too_big.status_code == 413
    assert RpcStatus.FromString(too_big.content).code == 8
