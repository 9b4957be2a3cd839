"""No Prometheus label value comes from client input: junk field names cannot grow /metrics."""

from __future__ import annotations

import uuid

from producers.metrics import rejected_field
from tests.helpers import event
from tests.unit.producers.fakes import collector_client


def rejected_lines(metrics_text: str) -> list[str]:
    return [line for line in metrics_text.splitlines() if line.startswith("feedback_items_rejected_total{")]


def test_thousands_of_junk_field_names_keep_metrics_small() -> None:
    client, _ = collector_client()
    headers = {"Authorization": "Bearer sk_1"}
    before = client.get("/metrics").text
    for batch in range(5):
        items = [event("copy", **{f"junk_{uuid.uuid4().hex}": 1}) for _ in range(1000)]
        response = client.post("/v1/events", json={"events": items}, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["rejected"][0]["errors"][0].endswith(": unknown field")
        junk_trace = {"trace_id": f"t{batch}", "conversation_id": "c", **{uuid.uuid4().hex: 1 for _ in range(50)}}
        assert client.post("/v1/traces", json=junk_trace, headers=headers).status_code == 400
    after = client.get("/metrics").text
    assert len(rejected_lines(after)) <= len(rejected_lines(before)) + 4
    assert len(after) < len(before) + 2000
    assert 'field="other"' in after


def test_labels_are_contract_fields_or_a_fixed_few() -> None:
    assert rejected_field("comment: String should have at most 4000 characters") == "comment"
    assert rejected_field('properties."a.b": String should have at most 1024 characters') == "properties"
    assert rejected_field("retrieval.scores.3: Input should be a valid number") == "retrieval"
    assert rejected_field("tools[0]: broken") == "tools"
    assert rejected_field("3: expected a JSON object") == "item"
    assert rejected_field("user_name_of_my_choosing: unknown field") == "other"
    assert rejected_field("a nonsense line") == "other"
