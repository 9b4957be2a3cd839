"""The traces step's rules, against a fake store: the latest report of a trace wins, repeats and
stale reports are duplicates, and the events that waited for a trace are rejoined once."""

from __future__ import annotations

import time

from consumers.outcome import Outcome
from consumers.rows import EVENT_INDEX, TRACE_INDEX
from tests.unit.consumers.fakes import TENANT, FakeStore, RecordingSink, Topic, batch_of, event, slow_chain, trace

MODEL, VERSION, SIGN = TRACE_INDEX["model"], TRACE_INDEX["version"], TRACE_INDEX["sign"]
NOW = int(time.time() * 1000)


def test_a_new_trace_is_stored_and_the_same_report_again_is_a_duplicate() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    traces = Topic("traces")
    report = trace("t-1", "c", model="m1")

    assert chain.submit(batch_of(traces.traces(report, received_at=NOW))) == Outcome(traces=1)
    assert chain.submit(batch_of(traces.traces(report, received_at=NOW))) == Outcome(duplicates=1)
    assert len(store.trace_rows) == 1


def test_a_newer_report_replaces_the_stored_one_and_an_older_one_is_dropped() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    traces = Topic("traces")
    chain.submit(batch_of(traces.traces(trace("t-1", "c", model="m1"), received_at=NOW)))

    newer = chain.submit(batch_of(traces.traces(trace("t-1", "c", model="m2"), received_at=NOW + 1000)))
    older = chain.submit(batch_of(traces.traces(trace("t-1", "c", model="m0"), received_at=NOW - 1000)))

    assert newer == Outcome(traces=1)
    assert older == Outcome(duplicates=1)
    # the replaced report's cancel row, then the new one (the responses count moves with them)
    assert [(row[MODEL], row[SIGN]) for row in store.trace_rows] == [("m1", 1), ("m1", -1), ("m2", 1)]
    assert store.traces[(TENANT, "t-1")][MODEL] == "m2"


def test_of_reports_in_one_batch_the_latest_wins() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    traces = Topic("traces")
    messages = traces.traces(trace("t-1", "c", model="late"), received_at=NOW + 5) + traces.traces(
        trace("t-1", "c", model="early"), received_at=NOW
    )
    assert chain.submit(batch_of(messages)) == Outcome(traces=1, duplicates=1)
    assert store.traces[(TENANT, "t-1")][MODEL] == "late"


def test_events_that_waited_for_a_trace_are_rejoined_once() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    waiting = [event("copy", trace_id="t-1"), event("thumbs", value="down", trace_id="t-1")]
    chain.submit(batch_of(Topic("explicit").events(*waiting)))

    report = trace("t-1", "c", model="m1")
    assert chain.submit(batch_of(Topic("traces").traces(report, received_at=NOW))) == Outcome(traces=1, rejoined=2)
    # read again (a crash before the commit): nothing left to rejoin
    assert chain.submit(batch_of(Topic("traces").traces(report, received_at=NOW))) == Outcome(duplicates=1)

    for item in waiting:
        row = store.events[(TENANT, item["event_id"])]
        assert (row[EVENT_INDEX["trace_joined"]], row[EVENT_INDEX["model"]], row[EVENT_INDEX["version"]]) == (
            True,
            "m1",
            2,
        )
    # each rejoined event: its first row, that row's cancel row, and the joined next version
    assert [row[EVENT_INDEX["sign"]] for row in store.event_rows] == [1, 1, -1, 1, -1, 1]


def test_the_opinions_waiting_for_the_batch_traces_are_mended() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    report = trace("t-1", "c")
    chain.submit(batch_of(Topic("traces").traces(report, report, received_at=NOW)))
    assert set(store.mended) == {(TENANT, "t-1")}


def test_a_trace_breaking_the_contract_is_dead_lettered() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    traces = Topic("traces")
    good = traces.traces(trace("t-1", "c"), received_at=NOW)
    empty_tenant = traces.traces(trace("t-2", "c"), tenant="", received_at=NOW)
    assert chain.submit(batch_of(good + empty_tenant)) == Outcome(traces=1, invalid=1)
    assert sink.reasons() == ["schema-invalid"]


def test_dimensions_are_cached_for_the_events_that_follow() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, cache = slow_chain(store, sink)
    tools = [{"name": "search", "success": False}, {"name": "calc", "success": True}]
    chain.submit(batch_of(Topic("traces").traces(trace("t-1", "c", model="m1", tools=tools), received_at=NOW)))
    store.traces.clear()  # the cache alone answers now
    dims = cache.get_many([(TENANT, "t-1")])[(TENANT, "t-1")]
    assert (dims["model"], dims["tool_count"], dims["tool_failed"]) == ("m1", 2, True)
