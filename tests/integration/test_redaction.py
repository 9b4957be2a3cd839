"""Redaction at the edge, end to end: PII-laden events and traces (JSON and OTLP) go through the
HTTP collector, Kafka and the worker; then every topic of the session and every ClickHouse table
is read byte by byte. None of the planted values appears, in any spelling, in mask or hash mode;
texts without personal data arrive byte-identical; the ``redacted`` column lists the kinds."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from stdnum import iban, luhn

from feedback.services import CollectorServer, make_collector
from tests.helpers import event, free_port, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

KEYS = {"mask": "sk_test_privacy_mask", "hash": "sk_test_privacy_hash"}
CLEAN = "Réponse 🙂 «ok» — see section 4.2, order #12345678 at 10:30:15, std::vector, v1.2.3.4.5"


class Planted:
    """Values unique to this run, so that finding one anywhere can only be a leak of ours."""

    def __init__(self) -> None:
        rng = random.Random()
        tag = uuid.uuid4().hex[:10]
        self.email = f"jane.{tag}@example.com"
        self.phone = f"+44 20 7946 0{rng.randrange(100, 999)}"
        body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
        self.card = " ".join((body + luhn.calc_check_digit(body))[i : i + 4] for i in range(0, 16, 4))
        bban = "".join(str(rng.randrange(10)) for _ in range(18))
        self.iban = f"DE{iban.calc_check_digits('DE00' + bban)}{bban}"
        self.ipv4 = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.ipv6 = f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
        self.secret = f"sk-proj-{uuid.uuid4().hex}{tag}"
        assert iban.is_valid(self.iban)

    def spellings(self) -> list[bytes]:
        """Every value as sent and in the spellings a normaliser would make of it."""
        values = [self.email, self.email.upper(), self.phone, self.card, self.iban, self.ipv4, self.ipv6, self.secret]
        values += [self.phone.replace(" ", ""), self.card.replace(" ", ""), self.phone.replace(" ", "")[1:]]
        return [value.encode() for value in values]

    def text(self) -> str:
        return (
            f"I am {self.email}, call {self.phone}; card {self.card}, IBAN {self.iban}, "
            f"from {self.ipv4} and {self.ipv6}, key {self.secret}."
        )


@pytest.fixture(scope="module")
def redacting(_pipeline: RunningPipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second collector on the session's topics, with tenants of its own: one masked (the default),
    one hashed. The session's worker stores what it sends."""
    root = tmp_path_factory.mktemp("redaction")
    keys = root / "keys.json"
    keys.write_text(
        json.dumps(
            {
                "keys": [
                    {"key": KEYS["mask"], "tenant": "privacy-mask", "kind": "secret"},
                    {"key": KEYS["hash"], "tenant": "privacy-hash", "kind": "secret"},
                ]
            }
        )
    )
    policy = root / "policy.toml"
    policy.write_text('default = "mask"\n\n[tenants.privacy-hash]\nmode = "hash"\n')
    settings = _pipeline.settings.model_copy(
        update={
            "http_addr": f"127.0.0.1:{free_port()}",
            "keys_file": keys,
            "redaction_policy_file": policy,
            "redaction_hash_key": SecretStr(uuid.uuid4().hex),
        }
    )
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"
    wait_for(lambda: _up(f"{base}/healthz"), 30, what="redacting collector up")
    yield base
    server.stop()
    thread.join(30)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _otlp_export(conversation_id: str, message_id: str, question: str, answer: str) -> bytes:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.conversation.id": conversation_id,
        "feedback.message_id": message_id,
        "feedback.properties.customer": question,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]),
    }
    with provider.get_tracer("test").start_as_current_span("chat gpt-4o", attributes=attributes):
        pass
    provider.shutdown()
    return bytes(encode_spans(exporter.get_finished_spans()).SerializeToString())


def _send(base: str, mode: str, planted: Planted) -> dict[str, Any]:
    """PII-laden and clean events and traces of one tenant; what was sent, by id."""
    pii = planted.text()
    conversation = new_id("conv-")
    traced = trace(new_id("trace-"), conversation, message_id=new_id("msg-"), input_text=pii, output_text=CLEAN)
    traced.update(
        error=f"CRM lookup of {planted.email} failed",
        tools=[{"name": "crm", "success": False, "error": f"no customer {planted.phone}"}],
        properties={"client": planted.ipv4, "page": CLEAN},
    )
    comment = event("comment", conversation_id=conversation, trace_id=traced["trace_id"], comment=pii)
    comment["properties"] = {"contact": planted.email, "note": CLEAN}
    edit = event("edit", conversation_id=conversation, trace_id=traced["trace_id"], edited_text=pii)
    clean = event("thumbs", conversation_id=conversation, value="down", reasons=["hallucinated"])
    clean["comment"] = CLEAN
    headers = {"Authorization": f"Bearer {KEYS[mode]}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        response = http.post("/v1/traces", json=traced, headers=headers)
        assert response.status_code == 202, response.text
        response = http.post("/v1/events", json={"events": [comment, edit, clean]}, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 3
        otlp_conversation = new_id("conv-")
        body = _otlp_export(otlp_conversation, new_id("msg-"), pii, CLEAN)
        response = http.post("/v1/traces", content=body, headers={**headers, "Content-Type": "application/x-protobuf"})
        assert response.status_code == 200, response.text
    return {
        "trace": traced["trace_id"],
        "otlp_conversation": otlp_conversation,
        "comment": comment["event_id"],
        "edit": edit["event_id"],
        "clean": clean["event_id"],
    }


def _every_topic_bytes(pipeline: RunningPipeline) -> bytes:
    """Keys, values and headers of every message of every topic of the session's prefix."""
    settings = pipeline.settings
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [name for name in admin.list_topics(timeout=10).topics if name.startswith(settings.topic_prefix)]
    assert settings.topic("dlq") in topics
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": new_id("redaction-"), "enable.auto.commit": False}
    )
    chunks: list[bytes] = []
    try:
        for topic in topics:
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high <= low:
                    continue
                consumer.assign([TopicPartition(topic, partition, low)])
                position = low
                while position < high:
                    message = consumer.poll(10)
                    assert message is not None, f"{topic}[{partition}] ended before offset {high}"
                    if message.error():
                        continue
                    key, value = message.key(), message.value()
                    chunks += [key if isinstance(key, bytes) else b"", value if isinstance(value, bytes) else b""]
                    headers = message.headers() or []
                    values = headers.values() if isinstance(headers, dict) else (pair[1] for pair in headers)
                    chunks += [value for value in values if isinstance(value, bytes)]
                    position = (message.offset() or position) + 1
    finally:
        consumer.close()
    return b"\n".join(chunks)


def _every_table_bytes(pipeline: RunningPipeline) -> bytes:
    database = pipeline.settings.clickhouse_database
    tables = pipeline.rows(
        "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View%'", db=database
    )
    assert {"events_log", "traces_log"} <= {name for (name,) in tables}
    out = b""
    for (name,) in tables:
        out += pipeline.client.raw_query(f"SELECT * FROM {database}.`{name}` FORMAT TSVRaw")
    return out


def test_no_planted_value_reaches_kafka_or_clickhouse_and_clean_text_is_untouched(
    pipeline: RunningPipeline, redacting: str
) -> None:
    planted = {"mask": Planted(), "hash": Planted()}
    sent = {mode: _send(redacting, mode, planted[mode]) for mode in planted}
    ids = [sent[mode][name] for mode in sent for name in ("comment", "edit", "clean")]
    events = pipeline.wait_rows(
        "SELECT event_id, tenant_id, comment, edited_text, properties, redacted FROM events "
        "WHERE event_id IN {ids:Array(String)}",
        len(ids),
        ids=ids,
    )
    conversations = [sent[mode]["otlp_conversation"] for mode in sent]
    trace_ids = [sent[mode]["trace"] for mode in sent]
    traces = pipeline.wait_rows(
        "SELECT trace_id, conversation_id, input_text, output_text, error, tools.error, properties, redacted "
        "FROM traces WHERE trace_id IN {ids:Array(String)} OR conversation_id IN {conversations:Array(String)}",
        4,
        ids=trace_ids,
        conversations=conversations,
    )

    kafka, clickhouse = _every_topic_bytes(pipeline), _every_table_bytes(pipeline)
    for mode, values in planted.items():
        for value in values.spellings():
            assert value not in kafka, f"{mode}: {value!r} found in a Kafka topic"
            assert value not in clickhouse, f"{mode}: {value!r} found in a ClickHouse table"

    everything = ["card", "email", "iban", "ip", "phone", "secret"]
    by_id = {row[0]: row for row in events}
    for mode in sent:
        comment, edit, clean = (by_id[sent[mode][name]] for name in ("comment", "edit", "clean"))
        assert comment[5] == everything
        assert comment[4]["note"] == CLEAN
        assert edit[5] == everything
        assert clean[2] == CLEAN
        assert clean[5] == []
        assert CLEAN.encode() in kafka  # byte-identical on the way, too
    masked = by_id[sent["mask"]["comment"]]
    assert masked[2] == "I am [email], call [phone]; card [card], IBAN [iban], from [ip] and [ip], key [secret]."
    assert masked[4]["contact"] == "[email]"
    hashed = by_id[sent["hash"]["comment"]]
    assert hashed[2].startswith("I am [email:")
    assert hashed[4]["contact"] == hashed[2].split(",")[0].removeprefix("I am ")  # same address, same token

    for row in traces:
        assert row[3] == CLEAN
        assert row[7] == everything
        assert row[6].get("page", CLEAN) == CLEAN
    stored = {row[0]: row for row in traces}
    json_trace = stored[sent["mask"]["trace"]]
    assert json_trace[4] == "CRM lookup of [email] failed"
    assert json_trace[5] == ["no customer [phone]"]
    assert json_trace[6] == {"client": "[ip]", "page": CLEAN}


def test_the_collector_refuses_hash_mode_without_a_key(pipeline: RunningPipeline, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"tenants": {"acme": {"mode": "hash"}}}')
    settings = pipeline.settings.model_copy(update={"redaction_policy_file": policy})
    with pytest.raises(ValueError, match="FEEDBACK_REDACTION_HASH_KEY"):
        make_collector(settings, with_query=False)
