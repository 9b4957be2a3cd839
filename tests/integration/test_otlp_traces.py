"""An LLM backend's OpenTelemetry SDK exports GenAI spans with its stock OTLP/HTTP exporter,
configured only by the standard environment variables; the trace lands in ClickHouse and a
thumbs event from the browser joins to it."""

from __future__ import annotations

import json

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.conftest import KEYS
from tests.helpers import event, new_id
from tests.integration.conftest import RunningPipeline
from tests.unit.producers.test_otlp import otlp_json

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def test_genai_spans_from_the_otlp_exporter_become_a_joined_trace(
    pipeline: RunningPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The three lines a backend team sets (README, "For backend teams").
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{pipeline.settings.http_addr}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {KEYS['secret']}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "support-bot")
    provider = TracerProvider(resource=Resource.create({"service.version": "3.1.0", "deployment.environment": "prod"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("app")

    conversation, message = new_id("conv-"), new_id("msg-")
    with tracer.start_as_current_span(
        "chat gpt-4o",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 321,
            "gen_ai.usage.output_tokens": 54,
            "gen_ai.conversation.id": conversation,
            "feedback.message_id": message,
            "feedback.prompt_version": "v9",
            "feedback.feature": "refunds",
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "Done."}]}]
            ),
        },
    ) as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        with tracer.start_as_current_span(
            "execute_tool refund", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund"}
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "payment API 502"))
    with tracer.start_as_current_span("GET /healthz"):  # not GenAI: ignored, not rejected
        pass
    assert provider.force_flush(30_000)
    provider.shutdown()

    rows = pipeline.wait_rows(
        "SELECT tenant_id, conversation_id, message_id, model, model_version, provider, deployment, environment, "
        "prompt_version, feature, input_tokens, output_tokens, output_text, tools.name, tool_failed "
        "FROM traces FINAL WHERE trace_id = {t:String}",
        1,
        t=trace_id,
    )
    assert rows == [
        (
            "acme",
            conversation,
            message,
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "openai",
            "3.1.0",
            "prod",
            "v9",
            "refunds",
            321,
            54,
            "Done.",
            ["refund"],
            True,
        )
    ]

    # The backend hands the trace id (hex, as W3C traceparent carries it) and message id to the page.
    thumbs = event("thumbs", conversation_id=conversation, trace_id=trace_id, message_id=message, value="down")
    response = pipeline.post("/v1/events", {"events": [thumbs]})
    assert response.status_code == 202, response.text
    joined = pipeline.wait_rows(
        "SELECT model, prompt_version, feature, tool_failed, trace_joined FROM events WHERE event_id = {e:String}",
        1,
        e=thumbs["event_id"],
    )
    assert joined == [("gpt-4o", "v9", "refunds", True, True)]


def test_otlp_json_export_is_stored_and_partial_success_reported(pipeline: RunningPipeline) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    conversation = new_id("conv-")
    for conversation_id in (conversation, None):  # the second has no conversation: rejected
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "feedback.feature": "faq"}
        if conversation_id:
            attributes["gen_ai.conversation.id"] = conversation_id
        with tracer.start_as_current_span("chat", attributes=attributes):
            pass
    good, _bad = exporter.get_finished_spans()
    response = pipeline.post("/v1/traces", otlp_json(encode_spans(exporter.get_finished_spans())), key="secret")
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] in (1, "1")
    assert (
        "conversation_id: required (from gen_ai.conversation.id or feedback.conversation_id)" in partial["errorMessage"]
    )
    rows = pipeline.wait_rows(
        "SELECT conversation_id, model, feature FROM traces WHERE trace_id = {t:String}",
        1,
        t=f"{good.context.trace_id:032x}",
    )
    assert rows == [(conversation, "gpt-4o-mini", "faq")]
