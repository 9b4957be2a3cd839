"""The worker finds stored events by the hour of their ``ts`` (docs/contract.md §7, consumers/event_time.py):
a resend whose ``ts`` moved (a new request: another ``received_at``) is still recognised within an
hour, across an hour boundary too; the worst-first list ranks only the responses that can be in it,
with the same result as ranking them all."""

from __future__ import annotations

import time

import pytest

from quality import stats_queries as q
from quality.dashboard_stats import parse_filters
from runtime.readonly_query import ADMIN
from tests.helpers import event, new_id
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


def test_the_worst_pool_from_responses_with_enough_negatives_equals_ranking_them_all(
    pipeline: RunningPipeline,
) -> None:
    tenant = new_id("t-")
    events = []
    # response i gets i % 4 thumbs down (from different users) and one regenerate when i is odd
    for i in range(24):
        message = f"m-{i}"
        conversation = new_id("conv-")
        for down in range(i % 4):
            events.append(
                event("thumbs", value="down", message_id=message, conversation_id=conversation, user_id=f"u{down}")
            )
        if i % 2:
            events.append(event("regenerate", message_id=message, conversation_id=conversation))
        events.append(event("copy", message_id=message, conversation_id=conversation))
    produce_items(pipeline.settings, events, [], tenant=tenant)
    pipeline.wait_rows("SELECT 1 FROM events WHERE tenant_id = {t:String}", len(events), t=tenant)
    f = parse_filters({"from": "7d", "tenant": tenant}, ADMIN)

    def keys(sql: str, parameters: dict[str, object]) -> list[str]:
        return [row[1] for row in pipeline.client.query(sql, parameters=parameters).result_rows]

    histogram = [(int(n), int(r), list(k)) for n, r, k in pipeline.client.query(*q.worst_threshold(f)).result_rows]
    assert [(n, r, len(k)) for n, r, k in histogram] == [(3, 6, 6), (2, 6, 6), (1, 6, 6)]
    for pool in (3, 6, 7, 12, 13, 18, 30):
        floor = q.worst_floor([(n, r) for n, r, _ in histogram], pool)
        assert floor == (3 if pool <= 6 else 2 if pool <= 12 else 1 if pool <= 18 else 0)
        ranked = keys(*q.worst_candidates(f, pool))
        assert keys(*q.worst_candidates(f, pool, floor)) == ranked, pool
        # the first pass's keys name the same candidates
        assert keys(*q.worst_candidates(f, pool, floor, q.worst_keys(histogram, floor))) == ranked, pool
