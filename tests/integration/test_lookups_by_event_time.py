"""The worker finds stored events by the hour of their ``ts`` and stored traces by the hour of their
``timestamp`` (docs/contract.md §7, consumers/event_time.py): a resend whose ``ts`` moved (a new
request: another ``received_at``) is still recognised within an hour, across an hour boundary too,
and so is a newer report of a trace whose timestamp moved; an event joins its trace however long
before it the trace came; the worst-first list's pool is the responses with the most
negative signals, the latest first among equals, as SQL over ``events`` ranks them."""

from __future__ import annotations

import time

import pytest

from quality import stats_queries as q
from quality.dashboard_stats import parse_filters
from runtime.readonly_query import ADMIN
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline
from tests.integration.kafka_tools import produce_items

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]
HOUR_MS = 3_600_000


def test_a_resend_whose_ts_moved_within_an_hour_is_stored_once(pipeline: RunningPipeline) -> None:
    tenant = new_id("t-")
    # just before an hour boundary, and the resends 1 s and 59 min later (the next hour)
    boundary = (int(time.time() * 1000) // HOUR_MS - 2) * HOUR_MS
    first = event("thumbs", value="down", timestamp=boundary - 500)
    moved = [{**first, "timestamp": boundary + 500}, {**first, "timestamp": boundary - 500 + 59 * 60_000}]
    produce_items(pipeline.settings, [first], [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", 1, t=tenant)
    for resend in moved:
        produce_items(pipeline.settings, [resend], [], tenant=tenant)
    marker = event("copy")
    produce_items(pipeline.settings, [marker], [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=marker["event_id"])
    rows = pipeline.rows(
        "SELECT event_id, toUnixTimestamp64Milli(ts) FROM events_log WHERE tenant_id = {t:String}", t=tenant
    )
    assert sorted(rows) == sorted([(first["event_id"], boundary - 500), (marker["event_id"], marker["timestamp"])])
    assert pipeline.rows("SELECT sum(thumbs_down) FROM quality_hourly WHERE tenant_id = {t:String}", t=tenant) == [(1,)]


def test_a_newer_report_whose_timestamp_moved_within_an_hour_replaces_the_stored_one(
    pipeline: RunningPipeline,
) -> None:
    tenant, conversation, trace_id = new_id("t-"), new_id("conv-"), new_id("trace-")
    boundary = (int(time.time() * 1000) // HOUR_MS - 2) * HOUR_MS
    first = trace(trace_id, conversation, model_version="r1", timestamp=boundary - 500)
    produce_items(pipeline.settings, [], [first], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=trace_id)
    time.sleep(0.01)  # a later receipt: the newer report
    produce_items(
        pipeline.settings, [], [{**first, "model_version": "r2", "timestamp": boundary + 40 * 60_000}], tenant=tenant
    )
    marker = trace(new_id("trace-"), conversation)
    produce_items(pipeline.settings, [], [marker], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM traces WHERE trace_id = {t:String}", 1, t=marker["trace_id"])
    rows = pipeline.rows(
        "SELECT model_version, toUnixTimestamp64Milli(timestamp) FROM traces WHERE trace_id = {t:String}", t=trace_id
    )
    assert rows == [("r2", boundary + 40 * 60_000)]
    responses = pipeline.rows(
        "SELECT model_version, sum(responses) FROM quality_hourly WHERE tenant_id = {t:String} "
        "GROUP BY model_version HAVING sum(responses) != 0 ORDER BY model_version",
        t=tenant,
    )
    assert responses == [("2026-11-01", 1), ("r2", 1)]


def test_an_event_joins_its_trace_however_long_before_it_the_trace_came(pipeline: RunningPipeline) -> None:
    tenant, conversation = new_id("t-"), new_id("conv-")
    now = int(time.time() * 1000)
    old, recent = (
        trace(new_id("trace-"), conversation, model=model, timestamp=now - age)
        for model, age in (("old-model", 3 * 24 * HOUR_MS), ("recent-model", 60_000))
    )
    produce_items(pipeline.settings, [], [old, recent], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM traces WHERE tenant_id = {t:String}", 2, t=tenant)
    signals = [event("thumbs", trace_id=t["trace_id"], conversation_id=conversation) for t in (old, recent)]
    produce_items(pipeline.settings, signals, [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", 2, t=tenant)
    rows = pipeline.rows("SELECT model, trace_joined FROM events WHERE tenant_id = {t:String} ORDER BY model", t=tenant)
    assert rows == [("old-model", True), ("recent-model", True)]


# The worst-first pool as SQL over ``events``: most negative signals, the latest negative first.
POOL_FROM_EVENTS = f"""
SELECT message_id FROM events WHERE tenant_id = {{t:String}}
GROUP BY tenant_id, message_id
HAVING countIf({q.NEGATIVE}) > 0
ORDER BY countIf({q.NEGATIVE}) DESC, maxIf(ts, {q.NEGATIVE}) DESC, cityHash64(tenant_id, message_id)
LIMIT {{pool:UInt32}}
"""


# What the list shows of each response, as SQL over ``events``: copies, regenerates, abandons.
SHOWN_FROM_EVENTS = """
SELECT message_id, countIf(type = 'copy'), countIf(type = 'regenerate'), countIf(type = 'abandon')
FROM events WHERE tenant_id = {t:String} GROUP BY message_id ORDER BY message_id
"""


def test_the_worst_pool_is_the_responses_with_most_negatives_the_latest_first(pipeline: RunningPipeline) -> None:
    tenant = new_id("t-")
    events = []
    start = int(time.time() * 1000) - 600_000
    # response i gets i % 4 thumbs down (from different users, the later the larger i), a copy, and
    # one regenerate when i is odd
    for i in range(24):
        message = f"m-{i}"
        conversation = new_id("conv-")
        fields = {"message_id": message, "conversation_id": conversation}
        for down in range(i % 4):
            at = start + i * 1000 + down
            events.append(event("thumbs", value="down", user_id=f"u{down}", timestamp=at, **fields))
        if i % 2:
            events.append(event("regenerate", **fields))
        events.append(event("copy", **fields))
    produce_items(pipeline.settings, events, [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", len(events), t=tenant)
    f = parse_filters({"from": "7d", "tenant": tenant}, ADMIN)

    def messages(query: q.Query) -> list[str]:
        return [row[1] for row in pipeline.rows(query.sql, **query.parameters)]

    for pool in (3, 6, 7, 12, 13, 18, 30):
        expected = [message for (message,) in pipeline.rows(POOL_FROM_EVENTS, t=tenant, pool=pool)]
        assert sorted(messages(q.worst_pool(f, pool))) == sorted(expected), pool
        assert len(expected) == min(pool, 18)  # 18 responses have a negative signal
    assert sorted(messages(q.worst_pool(f, 3))) == ["m-15", "m-19", "m-23"]  # 3 each, the latest
    # what the list shows of them: every event of the response, whatever trace each carries (here
    # each has its own) or none (an abandon may name the response without one)
    abandon = event("abandon", message_id="m-23", conversation_id=new_id("conv-"))
    abandon.pop("trace_id", None)
    produce_items(pipeline.settings, [abandon], [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE event_id = {e:String}", 1, e=abandon["event_id"])
    listed = [f"m-{i}" for i in range(24)]
    query = q.listed_signals(f, listed)
    shown = pipeline.rows(query.sql, **query.parameters)
    assert sorted((row[1], row[2], row[4], row[7]) for row in shown) == pipeline.rows(SHOWN_FROM_EVENTS, t=tenant)
    # fewer with a negative signal than the pool holds: every response ranked, most negatives first
    ranked = messages(q.worst_candidates(f, 30))
    assert len(ranked) == 24
    assert sorted(ranked[:6]) == sorted(f"m-{i}" for i in range(3, 24, 4))
