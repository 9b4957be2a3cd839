"""Derived `rephrase` and `abandon` through the real pipeline: traces and events in over HTTP, the
rules over ClickHouse, the derived events back through Kafka and the worker (issue 15 §1)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from feedback.services import start_quality_loop
from quality.derive import Rules, derive, derived_event_id, find_signals, produce
from quality.metrics import ALERT_CHECKS
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

MINUTE = 60_000
PASSWORD = "how do I reset my password"


def _conversation(
    pipeline: RunningPipeline,
    prompts: list[tuple[int, str]],
    events: list[dict[str, Any]] | None = None,
    feature: str = "derive-test",
) -> tuple[str, list[str]]:
    """A conversation whose traces have these (timestamp ms, input_text); returns its id and trace ids."""
    conversation = new_id("conv-")
    ids = [new_id("trace-") for _ in prompts]
    body = {
        "traces": [
            trace(t, conversation, timestamp=ts, input_text=text, feature=feature)
            for t, (ts, text) in zip(ids, prompts, strict=True)
        ]
    }
    assert pipeline.post("/v1/traces", body, key="secret").status_code == 202
    for item in events or []:
        item["conversation_id"] = conversation
        item["trace_id"] = ids[item.pop("on", 0)]
    if events:
        assert pipeline.post("/v1/events", {"events": events}).status_code == 202
    return conversation, ids


def test_rules_their_near_misses_and_exactness_under_rederivation(pipeline: RunningPipeline) -> None:
    now = int(time.time() * 1000)
    t0 = now - 120 * MINUTE
    hit_feature = new_id("derive-")  # its own feature, to read its hourly sums alone
    hit, hit_ids = _conversation(
        pipeline, [(t0, PASSWORD), (t0 + MINUTE, "how can I reset my password?")], feature=hit_feature
    )
    too_late, _ = _conversation(pipeline, [(t0, PASSWORD), (t0 + 5 * MINUTE, "how can I reset my password?")])
    unrelated, _ = _conversation(pipeline, [(t0, PASSWORD), (t0 + MINUTE, "what is the weather in Paris")])
    resend, _ = _conversation(pipeline, [(t0, PASSWORD), (t0 + MINUTE, PASSWORD)])
    client_said, client_ids = _conversation(
        pipeline,
        [(t0, PASSWORD), (t0 + MINUTE, "how can I reset my password?")],
        [event("rephrase", timestamp=t0 + MINUTE, on=0)],
    )
    copied, _ = _conversation(pipeline, [(t0, "write a haiku")], [event("copy", timestamp=t0 + MINUTE)])
    recent, _ = _conversation(pipeline, [(now - 10 * MINUTE, "write a haiku")])
    came_back, _ = _conversation(pipeline, [(t0, "write a haiku")], [event("dwell", timestamp=now - 20 * MINUTE)])
    disliked, disliked_ids = _conversation(
        pipeline, [(t0, "write a haiku")], [event("thumbs", value="down", timestamp=t0 + MINUTE)]
    )
    left_said, _ = _conversation(pipeline, [(t0, "write a haiku")], [event("abandon", timestamp=t0 + 2 * MINUTE)])
    conversations = [hit, too_late, unrelated, resend, client_said, copied, recent, came_back, disliked, left_said]
    pipeline.wait_rows("SELECT 1 FROM traces WHERE conversation_id IN {c:Array(String)}", 14, c=conversations)
    pipeline.wait_rows("SELECT 1 FROM events WHERE conversation_id IN {c:Array(String)}", 5, c=conversations)

    at = datetime.fromtimestamp(now / 1000, UTC)
    counts = derive(pipeline.settings, pipeline.client, at=at, tenant="acme")
    assert counts["rephrase"] >= 1
    assert counts["abandon"] >= 1

    query = (
        "SELECT conversation_id, type, trace_id, origin, ts FROM events "
        "WHERE conversation_id IN {c:Array(String)} AND origin = 'derived' ORDER BY conversation_id, type"
    )
    expected = {
        (hit, "rephrase", hit_ids[0]),
        # every idle conversation without a positive signal: its last response
        *((c, "abandon", None) for c in (hit, too_late, unrelated, resend, client_said, disliked)),
    }
    rows = pipeline.wait_rows(query, len(expected), c=conversations)
    assert {(c, kind, trace_id if kind == "rephrase" else None) for c, kind, trace_id, _, _ in rows} == expected
    derived_abandon = {c: (t, ts) for c, kind, t, _, ts in rows if kind == "abandon"}
    assert derived_abandon[disliked][0] == disliked_ids[0]
    assert derived_abandon[hit][0] == hit_ids[1]  # the last response, not the first
    # deterministic event time: the last activity plus the idle time
    rephrased_at = datetime.fromtimestamp((t0 + MINUTE) / 1000, UTC).replace(tzinfo=None)
    assert [ts for c, kind, _, _, ts in rows if c == hit and kind == "rephrase"] == [rephrased_at]

    # Deriving again finds nothing new for these conversations.
    assert [r for r in _records_for(pipeline, at) if r["conversation_id"] in conversations] == []
    # Producing the same signals again (a crash before the worker stored them, or a replay)
    # stores nothing twice: same event_id, one row. A later event on the same key (same
    # partition) tells when the worker is past them.
    produce(pipeline.settings, [_record_like(rows, hit, pipeline)])
    sentinel = event("copy", conversation_id=hit, trace_id=hit_ids[1], timestamp=now - MINUTE)
    assert pipeline.post("/v1/events", sentinel).status_code == 202
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=sentinel["event_id"])
    assert pipeline.rows(
        query.replace("ORDER BY", "AND conversation_id = {h:String} ORDER BY"), c=conversations, h=hit
    )[0][:3] == (hit, "abandon", hit_ids[1])
    assert len(pipeline.rows(query, c=conversations)) == len(expected)

    # The client's own rephrase stood alone (nothing derived on top of it)...
    assert pipeline.rows(
        "SELECT origin, count() FROM events WHERE trace_id = {t:String} AND type = 'rephrase' GROUP BY origin",
        t=client_ids[0],
    ) == [("client", 1)]
    # ...and a client rephrase arriving after the derived one is stored, but the response
    # counts as rephrased once wherever signals are counted per response.
    late = event("rephrase", conversation_id=hit, trace_id=hit_ids[0], timestamp=t0 + MINUTE)
    assert pipeline.post("/v1/events", late).status_code == 202
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=late["event_id"])
    assert pipeline.rows("SELECT rephrased FROM response_signals WHERE trace_id = {t:String}", t=hit_ids[0]) == [(1,)]
    # ...and in the hourly sums too: the client's supersedes the derived one (cancelled).
    rephrases = "SELECT sum(rephrases) FROM quality_hourly WHERE feature = {f:String} AND tenant_id = 'acme'"
    _wait_superseded(pipeline, hit_ids[0])
    assert pipeline.rows(rephrases, f=hit_feature) == [(1,)]
    # A replay of the derived signal after its cancelled pair is merged away stores it again
    # and cancels it again: still counted once.
    pipeline.client.command(f"OPTIMIZE TABLE {pipeline.settings.clickhouse_database}.events_log FINAL")
    derived = _derived_rephrase(pipeline, hit, hit_ids[0], t0 + MINUTE)
    produce(pipeline.settings, [derived])
    sentinel = event("copy", conversation_id=hit, trace_id=hit_ids[1], timestamp=now - MINUTE)
    assert pipeline.post("/v1/events", sentinel).status_code == 202
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=sentinel["event_id"])
    _wait_superseded(pipeline, hit_ids[0])
    assert pipeline.rows(rephrases, f=hit_feature) == [(1,)]


def _wait_superseded(pipeline: RunningPipeline, trace_id: str) -> None:
    """Until the response's derived rephrase is cancelled (the statement after the batch's insert)."""
    wait_for(
        lambda: (
            pipeline.rows("SELECT origin FROM events WHERE trace_id = {t:String} AND type = 'rephrase'", t=trace_id)
            == [("client",)]
        ),
        what="the client's rephrase alone",
    )


def _derived_rephrase(pipeline: RunningPipeline, conversation: str, trace_id: str, ts_ms: int) -> dict[str, Any]:
    """The derived rephrase of ``trace_id`` as the server produces it (same deterministic event_id)."""
    record = event("rephrase", conversation_id=conversation, trace_id=trace_id)
    record.update(
        event_id=derived_event_id("acme", "rephrase", trace_id), tenant_id="acme", ts=ts_ms, timestamp=ts_ms,
        received_at=ts_ms, sent_at=None, received_via="derived", message_id=None, response_id=None, turn_id=None,
        session_id=None, value=None, reasons=[], comment=None, edited_text=None, edit_distance=None,
        copied_chars=None, attempt=None, dwell_ms=None, properties={"derived_by": "rephrase"},
    )  # fmt: skip
    return record


def _record_like(rows: list[tuple[Any, ...]], conversation: str, pipeline: RunningPipeline) -> dict[str, Any]:
    """The derived abandon of ``conversation`` as it was produced (same deterministic event_id)."""
    (event_id, trace_id, ts) = pipeline.rows(
        "SELECT event_id, trace_id, ts FROM events WHERE conversation_id = {c:String} AND origin = 'derived' "
        "AND type = 'abandon'",
        c=conversation,
    )[0]
    record = event("abandon", conversation_id=conversation, trace_id=trace_id, event_id=event_id)
    ms = int(ts.replace(tzinfo=UTC).timestamp() * 1000)
    record.update(
        tenant_id="acme", ts=ms, timestamp=ms, received_at=ms, sent_at=None, received_via="derived",
        message_id=None, response_id=None, turn_id=None, session_id=None, value=None, reasons=[], comment=None,
        edited_text=None, edit_distance=None, copied_chars=None, attempt=None, dwell_ms=None, properties={},
    )  # fmt: skip
    return record


def _records_for(pipeline: RunningPipeline, at: datetime) -> list[dict[str, Any]]:
    return find_signals(
        pipeline.client, pipeline.settings.clickhouse_database, Rules.from_settings(pipeline.settings), at, "acme"
    )


def test_the_periodic_job_derives_and_checks_by_itself(pipeline: RunningPipeline) -> None:
    """What runs inside `feedback up` / `feedback worker` every FEEDBACK_QUALITY_INTERVAL_S."""
    now = int(time.time() * 1000)
    idle, (trace_id,) = _conversation(pipeline, [(now - 120 * MINUTE, "write a haiku")])
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
    checks_before = ALERT_CHECKS._value.get()
    stop = threading.Event()
    thread = start_quality_loop(pipeline.settings.model_copy(update={"quality_interval_s": 0.2}), stop)
    assert thread is not None
    try:
        pipeline.wait_rows(
            "SELECT 1 FROM events WHERE conversation_id = {c:String} AND type = 'abandon' AND origin = 'derived'",
            1,
            c=idle,
        )
        wait_for(lambda: ALERT_CHECKS._value.get() > checks_before, 30, what="an alert check by the loop")
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert start_quality_loop(pipeline.settings.model_copy(update={"quality_interval_s": 0}), stop) is None
