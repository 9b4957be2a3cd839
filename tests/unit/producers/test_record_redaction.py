"""Through the collector's routes: what goes to Kafka has no personal data and names what was replaced."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas.serde import AvroDecoder
from tests.unit.producers.fakes import collector_client
from tests.unit.producers.test_otlp import chat, export_of, otlp_json

EMAIL, PHONE, CARD = "jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"
SECRET_HEADER = {"Authorization": "Bearer sk_1"}


def event(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "comment",
        "timestamp": "2026-11-29T12:00:00Z",
        "conversation_id": "c-1",
        "trace_id": "t-1",
        "message_id": "m-1",
        "user_id": "u-1",
        **fields,
    }


def sent(producer: Any, subject: str) -> list[dict[str, Any]]:
    decoder = AvroDecoder(subject)
    return [decoder.decode(message.value) for message in producer.sent]


def test_event_texts_and_properties_are_masked_and_the_kinds_recorded() -> None:
    client, producer = collector_client()
    body = {
        "events": [
            event(comment=f"mail {EMAIL} or call {PHONE}", properties={"card": CARD, "page": "/chat"}),
            event(type="edit", comment=None, edited_text="Thanks, the refund is issued.", edit_distance=3),
        ]
    }
    response = client.post("/v1/events", json=body, headers=SECRET_HEADER)
    assert response.status_code == 202, response.text
    first, second = sent(producer, "event")
    assert first["comment"] == "mail [email] or call [phone]"
    assert first["properties"] == {"card": "[card]", "page": "/chat"}
    assert first["redacted"] == ["card", "email", "phone"]
    assert second["edited_text"] == "Thanks, the refund is issued."  # nothing to redact: as sent
    assert second["redacted"] == []


def test_trace_texts_tool_errors_and_properties_are_masked() -> None:
    client, producer = collector_client()
    trace = {
        "trace_id": "t-1",
        "conversation_id": "c-1",
        "input_text": f"my card is {CARD}",
        "output_text": "I cannot store card numbers.",
        "error": "upstream said: key sk-proj-Abcdefghijklmnopqrstuvwx12345 revoked",
        "tools": [{"name": "crm", "success": False, "error": f"no customer {EMAIL}"}],
        "properties": {"client_ip": "203.0.113.77"},
    }
    response = client.post("/v1/traces", json=trace, headers=SECRET_HEADER)
    assert response.status_code == 202, response.text
    (record,) = sent(producer, "trace")
    assert record["input_text"] == "my card is [card]"
    assert record["output_text"] == "I cannot store card numbers."
    assert record["error"] == "upstream said: key [secret] revoked"
    assert record["tools"][0]["error"] == "no customer [email]"
    assert record["properties"] == {"client_ip": "[ip]"}
    assert record["redacted"] == ["card", "email", "ip", "secret"]


def test_otlp_exports_are_redacted_too() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    question = [{"role": "user", "parts": [{"type": "text", "content": f"I am {EMAIL}"}]}]
    chat(provider.get_tracer("test"), **{"gen_ai.input.messages": json.dumps(question)})
    client, producer = collector_client()
    response = client.post("/v1/traces", json=otlp_json(export_of(exporter)), headers=SECRET_HEADER)
    assert response.status_code == 200, response.text
    (record,) = sent(producer, "trace")
    assert record["input_text"] == "I am [email]"
    assert record["redacted"] == ["email"]


def test_a_tenant_in_hash_mode_gets_stable_tokens_and_one_in_off_mode_its_text(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"tenants": {"acme": "hash"}}')
    client, producer = collector_client(redaction_policy_file=policy, redaction_hash_key="0123456789abcdef")
    body = {"events": [event(comment=f"I am {EMAIL}"), event(comment=f"I am {EMAIL.upper()}")]}
    assert client.post("/v1/events", json=body, headers=SECRET_HEADER).status_code == 202
    first, second = sent(producer, "event")
    assert first["comment"] == second["comment"]
    assert first["comment"].startswith("I am [email:")
    assert EMAIL not in first["comment"]
    assert first["redacted"] == ["email"]

    policy.write_text('{"tenants": {"acme": "off"}}')
    client, producer = collector_client(redaction_policy_file=policy)
    response = client.post("/v1/events", json={"events": [event(comment=f"I am {EMAIL}")]}, headers=SECRET_HEADER)
    assert response.status_code == 202
    (record,) = sent(producer, "event")
    assert record["comment"] == f"I am {EMAIL}"
    assert record["redacted"] == []
