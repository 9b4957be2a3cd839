"""HTTP → Kafka → ClickHouse through the real broker and the real engine."""

from __future__ import annotations

import pytest

from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def test_thumbs_down_is_stored_joined_to_its_trace(pipeline: RunningPipeline) -> None:
    conversation = new_id("conv-")
    trace_id = new_id("trace-")
    response = pipeline.post(
        "/v1/traces",
        {
            "traces": [
                trace(
                    trace_id,
                    conversation,
                    model_version="m-2026-11",
                    tools=[{"name": "search", "success": False}],
                )
            ]
        },
        key="secret",
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "rejected": []}
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)

    thumbs = event("thumbs", conversation_id=conversation, trace_id=trace_id, value="down", reasons=["hallucinated"])
    response = pipeline.post("/v1/events", {"events": [thumbs]})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1

    rows = pipeline.wait_rows(
        "SELECT tenant_id, thumb, reasons, model_version, tool_failed, trace_joined "
        "FROM events WHERE event_id = {e:String}",
        1,
        e=thumbs["event_id"],
    )
    assert rows == [("acme", "down", ["hallucinated"], "m-2026-11", True, True)]


def test_mixed_batch_rejects_bad_items_and_stores_their_siblings(pipeline: RunningPipeline) -> None:
    good = [event("copy"), event("rating", value=5)]
    bad = event("rating", value=9)
    response = pipeline.post("/v1/events", {"events": [good[0], bad, good[1]]})
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == [
        {"index": 1, "event_id": bad["event_id"], "errors": ["value: rating must be an integer from 1 to 5"]}
    ]
    ids = [e["event_id"] for e in good]
    rows = pipeline.wait_rows("SELECT event_id FROM events WHERE event_id IN {ids:Array(String)}", 2, ids=ids)
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert pipeline.rows("SELECT count() FROM events WHERE event_id = {e:String}", e=bad["event_id"]) == [(0,)]


def test_nothing_valid_is_a_400_with_every_reason(pipeline: RunningPipeline) -> None:
    response = pipeline.post("/v1/events", {"events": [{"type": "thumbs"}]})
    assert response.status_code == 400
    errors = response.json()["rejected"][0]["errors"]
    assert "event_id: required" in errors
    assert "conversation_id: required" in errors


def test_public_key_may_not_write_traces(pipeline: RunningPipeline) -> None:
    response = pipeline.post("/v1/traces", trace(new_id(), new_id()), key="public")
    assert response.status_code == 403
    assert "secret" in response.json()["error"]


def test_unknown_or_missing_key_is_401(pipeline: RunningPipeline) -> None:
    assert pipeline.http.post("/v1/events", json=event()).status_code == 401
    response = pipeline.http.post("/v1/events", json=event(), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_tenant_in_the_body_is_ignored(pipeline: RunningPipeline) -> None:
    sneaky = event("copy", tenant_id="globex")
    response = pipeline.post("/v1/events", {"events": [sneaky]})
    assert response.status_code == 202
    rows = pipeline.wait_rows("SELECT tenant_id FROM events WHERE event_id = {e:String}", 1, e=sneaky["event_id"])
    assert rows == [("acme",)]


def test_tenant_comes_from_the_key_for_traces_too(pipeline: RunningPipeline) -> None:
    trace_id = new_id("trace-")
    response = pipeline.post(
        "/v1/traces", {"traces": [trace(trace_id, new_id(), tenant_id="acme")]}, key="other_secret"
    )
    assert response.status_code == 202
    rows = pipeline.wait_rows("SELECT tenant_id FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
    assert rows == [("globex",)]


def test_bare_event_and_api_key_in_body(pipeline: RunningPipeline) -> None:
    bare = event("dwell", dwell_ms=1234)
    response = pipeline.http.post(
        "/v1/events",
        content=__import__("json").dumps({**bare, "api_key": "pk_test_acme"}),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 202, response.text
    rows = pipeline.wait_rows(
        "SELECT dwell_ms, received_via FROM events WHERE event_id = {e:String}", 1, e=bare["event_id"]
    )
    assert rows == [(1234, "beacon")]


def test_admin_query_endpoint_is_read_only(pipeline: RunningPipeline) -> None:
    ok = pipeline.post("/v1/query", {"sql": "SELECT 1 AS one"}, key="admin")
    assert ok.status_code == 200
    assert ok.json() == {"columns": ["one"], "rows": [[1]]}
    refused = pipeline.post(
        "/v1/query", {"sql": f"DROP TABLE {pipeline.settings.clickhouse_database}.events_log"}, key="admin"
    )
    assert refused.status_code == 400
    assert "only a read statement" in refused.json()["error"]
    assert pipeline.post("/v1/query", {"sql": "SELECT 1"}, key="secret").status_code == 403


def test_health_endpoints(pipeline: RunningPipeline) -> None:
    assert pipeline.http.get("/healthz").json() == {"status": "ok"}
    assert pipeline.http.get("/readyz").status_code == 200
    metrics = pipeline.http.get("/metrics").text
    assert "feedback_items_accepted_total" in metrics


def test_ids_with_quotes_and_backslashes_join(pipeline: RunningPipeline) -> None:
    conversation, trace_id = new_id("conv-"), 'it\'s a \\ "trace" ' + new_id()
    assert pipeline.post("/v1/traces", trace(trace_id, conversation, model="odd"), key="secret").status_code == 202
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
    signal = event("copy", conversation_id=conversation, trace_id=trace_id)
    assert pipeline.post("/v1/events", signal).status_code == 202
    rows = pipeline.wait_rows("SELECT model FROM events WHERE event_id = {e:String}", 1, e=signal["event_id"])
    assert rows == [("odd",)]
