"""The events step's rules, against a fake store: each event stored once (by tenant and
event_id), joined to its trace when the trace is known, the rest counted for what it is."""

from __future__ import annotations

from consumers.outcome import Outcome
from consumers.rows import EVENT_INDEX
from tests.unit.consumers.fakes import TENANT, FakeStore, RecordingSink, Topic, batch_of, event, slow_chain, trace

JOINED, MODEL = EVENT_INDEX["trace_joined"], EVENT_INDEX["model"]


def test_an_event_is_stored_once_whatever_repeats_it() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    explicit = Topic("explicit")
    thumbs = event("thumbs", value="down")
    copy = event("copy")

    first = chain.submit(batch_of(explicit.events(thumbs, copy, thumbs)))  # repeated within the batch
    again = chain.submit(batch_of(explicit.events(thumbs)))  # and in a later batch

    assert first == Outcome(events=2, duplicates=1)
    assert again == Outcome(duplicates=1)
    assert sorted(store.events) == sorted([(TENANT, thumbs["event_id"]), (TENANT, copy["event_id"])])
    assert len(store.event_rows) == 2  # nothing written twice


def test_the_same_event_id_in_two_tenants_is_two_events() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    explicit = Topic("explicit")
    thumbs = event("thumbs", value="up", reasons=[])
    messages = explicit.events(thumbs, tenant="acme") + explicit.events(thumbs, tenant="globex")
    assert chain.submit(batch_of(messages)) == Outcome(events=2)


def test_an_event_joins_its_trace_when_known_and_waits_otherwise() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    chain.submit(batch_of(Topic("traces").traces(trace("t-known", "c", model="m1"))))
    explicit = Topic("explicit")
    joined, waiting = event("copy", trace_id="t-known"), event("copy", trace_id="t-later")

    assert chain.submit(batch_of(explicit.events(joined, waiting))) == Outcome(events=2)

    assert store.events[(TENANT, joined["event_id"])][JOINED] is True
    assert store.events[(TENANT, joined["event_id"])][MODEL] == "m1"
    assert store.events[(TENANT, waiting["event_id"])][JOINED] is False
    assert store.events[(TENANT, waiting["event_id"])][MODEL] is None


def test_an_event_finds_the_trace_of_its_own_batch() -> None:
    """Traces are written before events: a batch's event joins the batch's trace."""
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    copy = event("copy", trace_id="t-1")
    messages = Topic("explicit").events(copy) + Topic("traces").traces(trace("t-1", "c", model="m2"))
    assert chain.submit(batch_of(messages)) == Outcome(events=1, traces=1)
    assert store.events[(TENANT, copy["event_id"])][MODEL] == "m2"


def test_poison_is_dead_lettered_and_its_siblings_stored() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    explicit = Topic("explicit")
    good = explicit.events(event("copy"))
    messages = [explicit.message(b""), explicit.message(b"not avro"), *good]

    assert chain.submit(batch_of(messages)) == Outcome(events=1, invalid=2)
    assert sink.reasons() == ["undecodable", "undecodable"]


def test_a_value_clickhouse_refuses_dead_letters_exactly_its_messages() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    bad, good = event("copy"), event("copy")
    store.refuse.add(bad["event_id"])

    done = chain.submit(batch_of(Topic("explicit").events(bad, bad, good)))

    assert done == Outcome(events=1, invalid=2)  # both messages of the refused event; not duplicates
    assert sink.reasons() == ["clickhouse-rejected", "clickhouse-rejected"]
    assert list(store.events) == [(TENANT, good["event_id"])]


def test_opinions_are_recorded_for_every_rating_and_thumb_of_the_batch() -> None:
    """Also for those stored before: a crash between the events and the opinions is mended."""
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    thumbs, rating, copy = event("thumbs", value="down"), event("rating", value=4), event("copy")
    chain.submit(batch_of(Topic("explicit").events(thumbs)))
    chain.submit(batch_of(Topic("explicit").events(thumbs, rating, copy)))
    assert store.opinions == [(TENANT, thumbs["event_id"]), (TENANT, thumbs["event_id"]), (TENANT, rating["event_id"])]


def test_only_explicit_events_newly_stored_are_announced() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink, announce=True)
    thumbs, copy = event("thumbs", value="down"), event("copy")
    first = batch_of(Topic("explicit").events(thumbs, copy))
    chain.submit(first)
    again = batch_of(Topic("explicit").events(thumbs))
    chain.submit(again)
    assert first.announced == [f"record of {thumbs['event_id']}"]
    assert again.announced == []


def test_derived_types_are_checked_for_superseding_every_time_they_arrive() -> None:
    """Every rephrase and abandon of a batch, stored before or not: a client one cancels the
    derived one of its response (consumers/superseded.py), idempotently."""
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    rephrase, abandon, copy = event("rephrase"), event("abandon"), event("copy")
    chain.submit(batch_of(Topic("implicit").events(rephrase, abandon, copy)))
    chain.submit(batch_of(Topic("implicit").events(rephrase)))
    assert store.superseding == [
        (TENANT, rephrase["event_id"]),
        (TENANT, abandon["event_id"]),
        (TENANT, rephrase["event_id"]),
    ]


def test_events_of_erased_users_are_dropped_and_counted_as_erased() -> None:
    store, sink = FakeStore(), RecordingSink()
    chain, _ = slow_chain(store, sink)
    gone, kept = event("thumbs", value="down", user_id="gone"), event("thumbs", value="up", reasons=[], user_id="kept")
    of_conversation = event("copy", conversation_id="conv-gone")
    store.erased = {(TENANT, "user", "gone"), (TENANT, "conversation", "conv-gone")}
    done = chain.submit(batch_of(Topic("explicit").events(gone, kept, of_conversation)))
    assert done == Outcome(events=1, erased=2)
    assert sorted(store.events) == [(TENANT, kept["event_id"])]
    assert sink.letters == []
