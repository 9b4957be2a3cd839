"""Signals per response and hour (sql/0080_responses_hourly.sql): the aggregate projection the
worst-first list reads, and its view ``responses_hourly``, add up exactly to ``events`` through a
resend, an insert ClickHouse deduplicates, a late trace's rejoin and an erasure; the list's queries
read the projection, not every event."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from quality import stats_queries as q
from quality.dashboard_stats import parse_filters
from runtime.readonly_query import ADMIN
from runtime.settings import Settings
from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

FROM_EVENTS = f"""
SELECT tenant_id, toStartOfHour(ts) AS hour, message_id, ifNull(feature, '') AS f, ifNull(model_version, '') AS mv,
       ifNull(prompt_version, '') AS pv, count(), countIf({q.NEGATIVE}), countIf({q.THUMB_UP}),
       countIf(type = 'copy'), countIf(type = 'edit'), countIf(type = 'regenerate'), countIf(type = 'rephrase'),
       countIf(type = 'dwell'), countIf(type = 'abandon'), min(ts), max(ts)
FROM events WHERE message_id IN {{m:Array(String)}}
GROUP BY ALL ORDER BY ALL
"""
# What the worst-first list shows of a response, per message: its signals, the first and the last.
SHOWN_FROM_EVENTS = """
SELECT message_id, countIf(type = 'copy'), countIf(type = 'edit'), countIf(type = 'regenerate'),
       countIf(type = 'rephrase'), countIf(type = 'dwell'), countIf(type = 'abandon'),
       toUnixTimestamp(min(ts)), toUnixTimestamp(max(ts))
FROM events WHERE message_id IN {m:Array(String)}
GROUP BY message_id ORDER BY message_id
"""
FROM_VIEW = """
SELECT tenant_id, hour, message_id, feature, model_version, prompt_version, events, negatives, thumbs_up,
       copies, edits, regenerates, rephrases, dwells, abandons, first_ts, last_ts
FROM responses_hourly WHERE message_id IN {m:Array(String)}
ORDER BY ALL
"""


def _query(pipeline: RunningPipeline, query: q.Query) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in pipeline.client.query(query.sql, parameters=query.parameters).result_rows]


def _same(pipeline: RunningPipeline, messages: list[str]) -> list[tuple[Any, ...]]:
    expected = pipeline.rows(FROM_EVENTS, m=messages)
    assert pipeline.rows(FROM_VIEW, m=messages) == expected
    return expected


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_responses_hourly_equals_events_through_a_resend_a_rejoin_and_an_erasure(pipeline: RunningPipeline) -> None:
    feature, gone = new_id("feature-"), new_id("user-gone-")
    kept_conv, gone_conv = new_id("conv-"), new_id("conv-")
    kept_trace, gone_trace = new_id("trace-"), new_id("trace-")
    kept_msg, gone_msg = new_id("msg-"), new_id("msg-")
    kept = {"conversation_id": kept_conv, "trace_id": kept_trace, "message_id": kept_msg, "user_id": "user-kept"}
    erased = {"conversation_id": gone_conv, "trace_id": gone_trace, "message_id": gone_msg, "user_id": gone}
    batch = [
        event("thumbs", value="down", **kept),
        event("regenerate", **kept),
        event("copy", **kept),
        event("rating", value=2, **erased),
        event("copy", **erased),
        event("thumbs", value="up", reasons=[], **{**erased, "user_id": "user-other"}),
    ]
    # sent twice (a client's resend): stored once
    for _ in range(2):
        response = pipeline.post("/v1/events", {"events": batch})
        assert response.status_code == 202
        assert response.json()["accepted"] == len(batch), response.text
    messages = [kept_msg, gone_msg]
    pipeline.wait_rows("SELECT 1 FROM events WHERE message_id IN {m:Array(String)}", len(batch), m=messages)
    before = _same(pipeline, messages)
    assert sorted((row[2], row[6], row[7]) for row in before) == sorted([(gone_msg, 3, 1), (kept_msg, 3, 1)])
    assert {row[3] for row in before} == {""}  # no trace joined yet

    # the traces arrive late: every event is rejoined (a cancel row and a new version each)
    for trace_id, conversation in ((kept_trace, kept_conv), (gone_trace, gone_conv)):
        report = trace(trace_id, conversation, feature=feature, model_version="mv-late", user_id="user-kept")
        assert pipeline.post("/v1/traces", report, key="secret").status_code == 202
    pipeline.wait_rows(
        "SELECT 1 FROM events WHERE message_id IN {m:Array(String)} AND trace_joined", len(batch), m=messages
    )
    joined = _same(pipeline, messages)
    assert {(row[3], row[4]) for row in joined} == {(feature, "mv-late")}
    assert sum(row[6] for row in joined) == len(batch)

    # the worst-first list: its pool from the projection, what it shows of it as events hold it
    f = parse_filters({"from": "2d", "feature": feature}, ADMIN)
    pool = _query(pipeline, q.worst_pool(f, 10))
    assert sorted(row[1:] for row in pool) == sorted([(kept_msg, kept_trace), (gone_msg, gone_trace)])
    # ranking every response (fewer have a negative signal than the pool holds): tied on negatives,
    # more regenerates and rephrases first
    assert [row[1:] for row in _query(pipeline, q.worst_candidates(f, 1))] == [(kept_msg, kept_trace)]
    assert len(_query(pipeline, q.worst_candidates(f, 10))) == 2
    shown = _query(pipeline, q.listed_signals(f, messages))
    assert sorted(row[1:10] for row in shown) == pipeline.rows(SHOWN_FROM_EVENTS, m=messages)
    assert {row[1]: row[10] for row in shown} == {kept_msg: ["hallucinated"], gone_msg: []}  # reasons

    # erasure removes the user's responses from the counts, and nothing else
    response = pipeline.post("/v1/forget", {"user": gone}, key="secret")
    assert response.status_code == 200, response.text
    wait_for(lambda: not pipeline.rows(FROM_VIEW, m=[gone_msg]), timeout_s=30)
    assert _same(pipeline, messages) == [row for row in joined if row[2] == kept_msg]
    assert [row[1] for row in _query(pipeline, q.worst_candidates(f, 10))] == [kept_msg]
    assert [row[1] for row in _query(pipeline, q.worst_pool(f, 10))] == [kept_msg]


COLUMNS = ["tenant_id", "event_id", "type", "timestamp", "received_at", "ts", "conversation_id", "message_id"]
COLUMNS += ["thumb", "trace_joined", "version", "sign"]


def _signals(client: Client, message: str) -> list[list[Any]]:
    now = client.query("SELECT now64(3)").result_rows[0][0]
    return [
        ["acme", new_id("e-"), "thumbs", now, now, now, "c", message, "down", False, 1, 1],
        ["acme", new_id("e-"), "thumbs", now, now, now, "c", message, "down", False, 1, 1],
        ["acme", new_id("e-"), "regenerate", now, now, now, "c", message, None, False, 1, 1],
    ]


@pytest.mark.clickhouse
def test_an_insert_clickhouse_deduplicates_counts_once(clickhouse: Client, base_settings: Settings) -> None:
    """A worker that crashed after its insert inserts the same block again (events_log's
    non_replicated_deduplication_window drops it): the projection is in the dropped part, so the
    block counts once — where a materialized view would have to be told not to count it again."""
    database = base_settings.clickhouse_database
    message = new_id("msg-")
    rows = _signals(clickhouse, message)
    for _ in range(2):
        clickhouse.insert(f"{database}.events_log", rows, column_names=COLUMNS)
    counted = f"SELECT events, negatives, regenerates FROM {database}.responses_hourly WHERE message_id = {{m:String}}"
    assert clickhouse.query(counted, parameters={"m": message}).result_rows == [(3, 2, 1)]


@pytest.mark.clickhouse
def test_the_worst_list_and_the_view_read_the_projection(clickhouse: Client, base_settings: Settings) -> None:
    """The list's queries must name each expression as the projection does, or ClickHouse reads
    every event instead (silently: same result, far slower)."""
    database = base_settings.clickhouse_database
    clickhouse.insert(f"{database}.events_log", _signals(clickhouse, new_id("msg-")), column_names=COLUMNS)
    client = base_settings.clickhouse().connect(database=database)
    f = parse_filters({"from": "7d", "feature": "", "tenant": "acme"}, ADMIN)  # the row inserted above
    pool = q.worst_pool(f, 200)
    # its first pass (the pool's keys), a subquery that EXPLAIN does not show inside the second
    negatives = pool.sql[pool.sql.index("SELECT key FROM (") + len("SELECT key FROM (") : pool.sql.rindex("))")]
    queries = [pool, q.Query(negatives, pool.parameters), q.worst_candidates(f, 200)]
    queries.append(q.Query("SELECT * FROM responses_hourly WHERE hour >= now() - INTERVAL 1 DAY", {}))
    for sql, parameters in queries:
        plan = client.query(f"EXPLAIN {sql}", parameters=parameters).result_rows
        reads = {line.split("(")[-1].rstrip(")") for (line,) in plan if "ReadFromMergeTree" in line}
        assert reads == {"responses_hourly_events"}, (sql, plan)
