"""Hypothesis throws malformed bodies and fields at the collector: never a 5xx, never a crash,
and every rejection names a field and a reason."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from schemas.vocabulary import EVENT_TYPES
from tests.unit.producers.fakes import collector_client

# a field path (map keys JSON-quoted), a colon, a reason
FIELD_REASON = re.compile(r'^(?:[^"\s]|"(?:[^"\\]|\\.)*")+: \S.*$')


@pytest.fixture(scope="module")
def client() -> TestClient:
    return collector_client()[0]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "event_id", "type", "timestamp", "conversation_id", "trace_id", "message_id", "turn_id", "response_id",
    "session_id", "user_id", "value", "reasons", "comment", "edited_text", "edit_distance", "copied_chars",
    "attempt", "dwell_ms", "properties", "tenant_id",
]  # fmt: skip
plausible = {
    "event_id": st.uuids().map(str) | st.text(max_size=40),
    "type": st.sampled_from(sorted(EVENT_TYPES)) | st.text(max_size=10),
    "timestamp": st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=30),
    "value": st.sampled_from(["up", "down", "none", 1, 5, 0, 6, True, "5"]),
    "reasons": st.lists(st.sampled_from(["hallucinated", "slow", "useful", "nope"]), max_size=4),
}
items = st.fixed_dictionaries(
    {},
    optional={name: plausible.get(name, json_values) for name in FIELDS} | {"bogus": json_values},
)


def assert_sane(status: int, body: dict[str, Any]) -> None:
    assert status < 500, body
    assert status in (202, 400, 401, 403, 413, 429), (status, body)
    if status != 202:
        assert isinstance(body.get("error"), str)
        assert body["error"]
    for rejection in body.get("rejected", []):
        assert rejection["errors"], rejection
        for error in rejection["errors"]:
            assert FIELD_REASON.match(error), error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(items, min_size=1, max_size=5), sent_at=st.none() | json_values)
def test_event_batches(client: TestClient, batch: list[dict[str, Any]], sent_at: Any) -> None:
    body: dict[str, Any] = {"events": batch}
    if sent_at is not None:
        body["sent_at"] = sent_at
    response = client.post("/v1/events", content=orjson.dumps(body), headers={"Authorization": "Bearer sk_1"})
    assert_sane(response.status_code, response.json())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_arbitrary_bodies(client: TestClient, raw: bytes) -> None:
    for path in ("/v1/events", "/v1/traces", "/v1/query"):
        response = client.post(path, content=raw, headers={"Authorization": "Bearer sk_1"})
        assert_sane(response.status_code, response.json())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    trace=st.fixed_dictionaries(
        {"trace_id": json_values, "conversation_id": json_values},
        optional={
            "retrieval": json_values,
            "tools": json_values,
            "latency_ms": json_values,
            "model": json_values,
            "timestamp": json_values,
            "streaming": json_values,
        },
    )
)
def test_traces(client: TestClient, trace: dict[str, Any]) -> None:
    response = client.post("/v1/traces", content=orjson.dumps(trace), headers={"Authorization": "Bearer sk_1"})
    assert_sane(response.status_code, response.json())
