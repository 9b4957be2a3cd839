"""Every number analysts read is exact: resends, double clicks, late traces, take-backs."""

from __future__ import annotations

import time

import pytest

from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

QUALITY_FROM_EVENTS = """
SELECT tenant_id, toStartOfHour(ts) AS hour, ifNull(model, '') AS model, ifNull(model_version, '') AS mv,
       ifNull(prompt_version, '') AS pv, ifNull(feature, '') AS feature,
       countIf(thumb = 'up'), countIf(thumb = 'down'), countIf(rating IS NOT NULL), sum(ifNull(rating, 0)),
       countIf(comment IS NOT NULL AND comment != ''), countIf(type = 'edit'), countIf(type = 'copy'),
       countIf(type = 'regenerate'), countIf(type = 'rephrase'), countIf(type = 'abandon')
FROM events WHERE tenant_id = {t:String}
GROUP BY tenant_id, hour, model, mv, pv, feature ORDER BY ALL
"""
QUALITY_TABLE = """
SELECT tenant_id, hour, model, model_version, prompt_version, feature, thumbs_up, thumbs_down, ratings,
       rating_sum, comments, edits, copies, regenerates, rephrases, abandons
FROM quality_hourly WHERE tenant_id = {t:String}
  AND (thumbs_up + thumbs_down + ratings + comments + edits + copies + regenerates + rephrases + abandons) != 0
ORDER BY ALL
"""
RESPONSES_FROM_TRACES = """
SELECT toStartOfHour(timestamp) AS hour, ifNull(model, ''), ifNull(model_version, ''), ifNull(prompt_version, ''),
       ifNull(feature, ''), count()
FROM traces WHERE tenant_id = {t:String} GROUP BY ALL ORDER BY ALL
"""
RESPONSES_TABLE = """
SELECT hour, model, model_version, prompt_version, feature, responses
FROM quality_hourly WHERE tenant_id = {t:String} AND responses != 0 ORDER BY ALL
"""


def test_a_resent_batch_and_a_double_click_are_stored_once(pipeline: RunningPipeline) -> None:
    batch = [event("thumbs", value="up", reasons=["useful"]), event("copy"), event("rating", value=3)]
    for _ in range(3):
        assert pipeline.post("/v1/events", {"events": batch}).status_code == 202
    double_click = event("regenerate")
    assert pipeline.post("/v1/events", {"events": [double_click, double_click]}).json()["accepted"] == 2
    ids = [e["event_id"] for e in [*batch, double_click]]
    pipeline.wait_rows("SELECT event_id FROM events WHERE event_id IN {ids:Array(String)}", 4, ids=ids)
    # give any duplicate time to arrive before asserting there is none
    marker = event("copy")
    pipeline.post("/v1/events", marker)
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=marker["event_id"])
    assert (
        pipeline.rows(
            "SELECT event_id, count() FROM events_log WHERE event_id IN {ids:Array(String)} GROUP BY event_id "
            "HAVING count() > 1",
            ids=ids,
        )
        == []
    )


def test_a_late_trace_is_joined_and_moves_the_hourly_counts(pipeline: RunningPipeline) -> None:
    conversation, trace_id = new_id("conv-"), new_id("trace-")
    signals = [
        event("thumbs", conversation_id=conversation, trace_id=trace_id, value="down", reasons=["slow"]),
        event("copy", conversation_id=conversation, trace_id=trace_id),
    ]
    assert pipeline.post("/v1/events", {"events": signals}).status_code == 202
    ids = [s["event_id"] for s in signals]
    unjoined = pipeline.wait_rows(
        "SELECT trace_joined, model FROM events WHERE event_id IN {ids:Array(String)}", 2, ids=ids
    )
    assert unjoined == [(False, None), (False, None)]

    late = trace(trace_id, conversation, model="late-model", model_version="lv1", prompt_version="p-late")
    assert pipeline.post("/v1/traces", late, key="secret").status_code == 202
    joined = wait_for(
        lambda: (
            rows
            if (
                rows := pipeline.rows(
                    "SELECT trace_joined, model, model_version FROM events WHERE event_id IN {ids:Array(String)}",
                    ids=ids,
                )
            )
            and all(r[0] for r in rows)
            else None
        ),
        30,
        what="late join",
    )
    assert joined == [(True, "late-model", "lv1"), (True, "late-model", "lv1")]
    # the aggregate's part commits just after the events' part: poll, do not read once
    wait_for(
        lambda: (
            pipeline.rows(
                "SELECT thumbs_down, copies, responses FROM quality_hourly "
                "WHERE model = 'late-model' AND prompt_version = 'p-late'"
            )
            == [(1, 1, 1)]
        ),
        10,
        what="hourly counts moved to the joined dimensions",
    )


def test_ratings_current_keeps_the_latest_by_event_time(pipeline: RunningPipeline) -> None:
    message, user = new_id("msg-"), new_id("user-")
    now = int(time.time() * 1000)
    common = {"message_id": message, "user_id": user}
    first_up = event("thumbs", value="up", reasons=[], timestamp=now - 30_000, **common)
    latest_down = event("thumbs", value="down", reasons=["incorrect"], timestamp=now - 10_000, **common)
    middle_rating = event("rating", value=2, timestamp=now - 20_000, **common)
    # arrive out of order: the latest first
    for item in (latest_down, first_up, middle_rating):
        assert pipeline.post("/v1/events", item).status_code == 202
    sql = (
        "SELECT rater_kind, thumb, thumb_event_id, rating, rating_event_id FROM ratings_current "
        "WHERE message_id = {m:String} AND user_id = {u:String}"
    )
    wait_for(
        lambda: pipeline.rows("SELECT count() FROM events WHERE message_id = {m:String}", m=message) == [(3,)],
        30,
    )
    # the latest thumb and, separately, the latest rating
    rating_id = middle_rating["event_id"]
    wait_for(lambda: pipeline.rows(sql, m=message, u=user) == [("user", "down", latest_down["event_id"], 2, rating_id)])

    take_back = event("thumbs", value="none", reasons=[], timestamp=now, **common)
    assert pipeline.post("/v1/events", take_back).status_code == 202
    # a take-back takes back the thumb only
    wait_for(lambda: pipeline.rows(sql, m=message, u=user) == [("user", "none", take_back["event_id"], 2, rating_id)])


def test_quality_hourly_adds_up_exactly_to_events_and_traces(pipeline: RunningPipeline) -> None:
    items = []
    for index in range(12):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        version = f"v{index % 3}"
        assert (
            pipeline.post(
                "/v1/traces", trace(trace_id, conversation, model_version=version), key="other_secret"
            ).status_code
            == 202
        )
        for kind in (
            "thumbs",
            "rating",
            "comment",
            "edit",
            "copy",
            "regenerate",
            "rephrase",
            "dwell",
            "abandon",
        ):
            items.append(event(kind, conversation_id=conversation, trace_id=trace_id))
    # a secret key may write events too: tenant globex is this test's own
    response = pipeline.post("/v1/events", {"events": items}, key="other_secret")
    assert response.json()["accepted"] == len(items)
    wait_for(lambda: pipeline.rows("SELECT count() FROM events WHERE tenant_id = 'globex'") >= [(len(items),)], 30)
    wait_for(
        lambda: pipeline.rows(QUALITY_FROM_EVENTS, t="globex") == pipeline.rows(QUALITY_TABLE, t="globex"),
        30,
        what="quality_hourly == counting events",
    )
    wait_for(
        lambda: pipeline.rows(RESPONSES_FROM_TRACES, t="globex") == pipeline.rows(RESPONSES_TABLE, t="globex"),
        30,
        what="responses == counting traces",
    )


def test_a_re_reported_trace_replaces_the_first_and_counts_once(pipeline: RunningPipeline) -> None:
    conversation, trace_id = new_id("conv-"), new_id("trace-")
    first = trace(trace_id, conversation, model="re-model", model_version="r1", feature="re-f")
    assert pipeline.post("/v1/traces", first, key="secret").status_code == 202
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
    second = trace(trace_id, conversation, model="re-model", model_version="r2", feature="re-f")
    assert pipeline.post("/v1/traces", second, key="secret").status_code == 202
    wait_for(
        lambda: pipeline.rows("SELECT model_version FROM traces WHERE trace_id = {t:String}", t=trace_id) == [("r2",)],
        30,
    )
    responses = pipeline.rows(
        "SELECT model_version, responses FROM quality_hourly WHERE feature = 're-f' ORDER BY model_version"
    )
    assert responses == [("r2", 1)]


def test_hours_without_thumbs_count_zero_not_null(pipeline: RunningPipeline) -> None:
    conversation, trace_id = new_id("conv-"), new_id("trace-")
    assert (
        pipeline.post("/v1/traces", trace(trace_id, conversation, feature="no-thumbs"), key="secret").status_code == 202
    )
    assert (
        pipeline.post("/v1/events", event("copy", conversation_id=conversation, trace_id=trace_id)).status_code == 202
    )
    wait_for(
        lambda: (
            pipeline.rows(
                "SELECT thumbs_up, thumbs_down, ratings, copies FROM quality_hourly WHERE feature = 'no-thumbs'"
            )
            == [(0, 0, 0, 1)]
        ),
        30,
        what="zeros, not NULLs",
    )
    types = dict(
        pipeline.rows(
            "SELECT name, type FROM system.columns WHERE table = 'quality_hourly' AND database = currentDatabase()"
        )
    )
    assert not any(kind.startswith("Nullable") for kind in types.values()), types


def test_the_aggregate_views_read_their_projections(pipeline: RunningPipeline) -> None:
    """quality_hourly and reasons_hourly are kept up to date incrementally, by projections written
    with each part: their views must read those, not rescan the logs (a rewritten expression —
    e.g. `x IS NOT NULL` turned into a null-subcolumn read — silently stops the match).
    ratings_current reads opinions_log itself, by its sort key."""
    conversation, trace_id = new_id("conv-"), new_id("trace-")
    pipeline.post("/v1/traces", trace(trace_id, conversation), key="secret")
    item = event("thumbs", conversation_id=conversation, trace_id=trace_id)
    pipeline.post("/v1/events", item)
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=item["event_id"])
    for view, projections in (
        ("quality_hourly", {"quality_hourly_opinions", "quality_hourly_events", "quality_hourly_responses"}),
        ("reasons_hourly", {"reasons_hourly_opinions"}),
        ("thumbs_hourly", {"thumbs_hourly_events"}),
        ("ratings_current", {f"{pipeline.settings.clickhouse_database}.opinions_log"}),
    ):
        plan = "\n".join(row[0] for row in pipeline.rows(f"EXPLAIN SELECT * FROM {view}"))
        reads = {line.split("(")[-1].rstrip(")") for line in plan.splitlines() if "ReadFromMergeTree" in line}
        assert reads == projections, (view, reads)


def test_events_carry_the_trace_dimensions_late_traces_included(pipeline: RunningPipeline) -> None:
    dimensions = {
        "deployment": "eu-west",
        "environment": "staging",
        "input_tokens": 120,
        "output_tokens": 340,
        "time_to_first_token_ms": 210,
        "streaming": True,
        "tools": [{"name": "search", "success": True}, {"name": "calc", "success": False}],
        "retrieval": {"doc_ids": ["d1", "d2", "d3"], "scores": [0.9, 0.5, 0.1], "citations_shown": 2},
    }
    sql = (
        "SELECT trace_joined, deployment, environment, input_tokens, output_tokens, time_to_first_token_ms, "
        "streaming, tool_count, tool_failed, retrieval_count, citations_shown FROM events WHERE event_id = {e:String}"
    )
    expected = [(True, "eu-west", "staging", 120, 340, 210, True, 2, True, 3, 2)]
    for late in (False, True):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        item = event("thumbs", conversation_id=conversation, trace_id=trace_id)
        reported = trace(trace_id, conversation, **dimensions)
        if not late:
            assert pipeline.post("/v1/traces", reported, key="secret").status_code == 202
            pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
        assert pipeline.post("/v1/events", item).status_code == 202
        if late:
            pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=item["event_id"])
            assert pipeline.post("/v1/traces", reported, key="secret").status_code == 202

        def stored(e: str = item["event_id"]) -> bool:
            return pipeline.rows(sql, e=e) == expected

        wait_for(stored, 30, what=f"dimensions (late={late})")
