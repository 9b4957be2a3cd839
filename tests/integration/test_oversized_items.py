"""An item too large for one Kafka message is rejected as that item, never a 503 retried for ever;
broker, topics and producer share one limit (FEEDBACK_KAFKA_MAX_MESSAGE_BYTES)."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # documented here, re-exported without __all__
    AdminClient,
    ConfigResource,
)

from feedback.services import CollectorServer, make_collector
from runtime.kafka import ensure_topics, max_item_bytes
from runtime.settings import Settings
from tests.conftest import KEYS
from tests.helpers import free_port, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

EMOJI = "\U0001f600"  # 4 bytes of UTF-8, one character


def post_traces(http: httpx.Client, traces: list[dict[str, Any]]) -> httpx.Response:
    body = orjson.dumps({"traces": traces})  # raw UTF-8, as a browser or backend would send it
    assert len(body) < 1024 * 1024
    return http.post(
        "/v1/traces", content=body, headers={"Authorization": f"Bearer {KEYS['secret']}", "Content-Type": "text/plain"}
    )


def test_on_the_defaults_a_trace_that_fits_a_body_is_stored_or_rejected_as_an_item(pipeline: RunningPipeline) -> None:
    conversation = new_id("conv-")
    too_big = trace(new_id("trace-"), conversation, input_text=EMOJI * 256_000, output_text=EMOJI * 4_000)
    small = trace(new_id("trace-"), conversation)
    response = post_traces(pipeline.http, [too_big, small])
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 0
    assert rejection["event_id"] == too_big["trace_id"]
    limit = max_item_bytes(pipeline.settings.kafka_max_message_bytes)
    assert rejection["errors"][0].startswith("item: ")
    assert f"over the limit of {limit} bytes per item" in rejection["errors"][0]

    # just under the item limit (librdkafka's own default, 1,000,000 bytes, refused it): stored whole
    large = trace(new_id("trace-"), conversation, output_text=EMOJI * 256_000)
    response = post_traces(pipeline.http, [large])
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "rejected": []}
    rows = pipeline.wait_rows(
        "SELECT length(ifNull(output_text, '')) FROM traces WHERE trace_id IN ({a:String}, {b:String})",
        2,
        a=large["trace_id"],
        b=small["trace_id"],
    )
    assert sorted(rows) == [(0,), (1_024_000,)]

    alone = post_traces(pipeline.http, [too_big])
    assert alone.status_code == 400
    assert alone.json()["rejected"][0]["errors"][0].startswith("item: ")


def test_one_setting_sets_topic_and_producer_and_the_item_limit_fits_them(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(
        update={
            "http_addr": f"127.0.0.1:{free_port()}",
            "topic_prefix": f"test-{new_id()}.",
            "kafka_max_message_bytes": 65_536,
        }
    )
    ensure_topics(settings)
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topic("traces"))
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["max.message.bytes"].value == "65536"

    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    try:
        http = httpx.Client(base_url=f"http://{settings.http_addr}", timeout=30)
        wait_for(lambda: _ok(http), 30, what="collector up")
        limit = max_item_bytes(65_536)
        conversation = new_id("conv-")
        overhead = _encoding_overhead(http, conversation)
        # incompressible text (lz4 can only grow it): the worst case for the broker's limit
        fits = trace(new_id("trace-"), conversation, output_text=_noise(limit - overhead))
        over = trace(new_id("trace-"), conversation, output_text=_noise(limit - overhead + 1))
        response = post_traces(http, [fits, over])
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1  # Kafka acknowledged the largest item allowed
        assert [r["index"] for r in response.json()["rejected"]] == [1]
    finally:
        server.stop()
        thread.join(30)


def _encoding_overhead(http: httpx.Client, conversation: str) -> int:
    """What this trace's message holds besides its output_text, read off a rejection's size."""
    text = 70_000
    probe = trace(new_id("trace-"), conversation, output_text=_noise(text))
    reason = post_traces(http, [probe]).json()["rejected"][0]["errors"][0]
    return int(reason.removeprefix("item: ").split(" ", 1)[0]) - text


def _noise(length: int) -> str:
    return base64.b64encode(os.urandom(length))[:length].decode()


def _ok(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
