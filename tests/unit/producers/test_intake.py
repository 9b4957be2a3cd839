from __future__ import annotations

import gzip

import orjson
import pytest

from bench.data import Generator
from producers.errors import BadRequest, TooLarge
from producers.intake import MAX_EVENT_AGE_MS, accept_events, corrected_ts, items_of, parse_body
from schemas.models import EventIn
from tests.helpers import event

NOW = 1_795_608_000_000


def test_skew_correction_uses_sent_at() -> None:
    # The client clock runs 10 minutes fast: the event happened 2 s before sending.
    skew = 600_000
    assert corrected_ts(NOW + skew - 2000, NOW + skew, NOW) == NOW - 2000


def test_without_sent_at_the_client_time_is_kept_but_never_in_the_future() -> None:
    assert corrected_ts(NOW - 5000, None, NOW) == NOW - 5000
    assert corrected_ts(NOW + 3_600_000, None, NOW) == NOW


def test_events_older_than_the_limit_are_rejected() -> None:
    old = event(timestamp=NOW - MAX_EVENT_AGE_MS - 1)
    intake = accept_events([old], None, "acme", NOW)
    assert intake.records == []
    assert intake.rejected[0].errors == ["timestamp: more than 30 days before the collector received it"]


def test_accepted_records_carry_tenant_and_times() -> None:
    item = event(timestamp=NOW - 1000)
    intake = accept_events([item], NOW, "acme", NOW + 50)
    record = intake.records[0]
    assert record["tenant_id"] == "acme"
    assert record["received_at"] == NOW + 50
    assert record["sent_at"] == NOW
    assert record["ts"] == NOW + 50 - 1000


def test_bad_sent_at_is_a_400() -> None:
    with pytest.raises(BadRequest, match="sent_at"):
        accept_events([event()], "soon", "acme", NOW)


def test_parse_body_gzip_and_api_key() -> None:
    raw = gzip.compress(orjson.dumps({"api_key": "pk", "events": []}))
    body, key = parse_body(raw, "gzip", 1 << 20)
    assert key == "pk"
    assert body == {"events": []}


def test_gzip_bomb_is_413() -> None:
    raw = gzip.compress(b"[" + b" " * (2 << 20) + b"]")
    with pytest.raises(TooLarge):
        parse_body(raw, "gzip", 1 << 20)


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'"x"'])
def test_unparsable_or_non_object_is_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_body(raw, None, 1 << 20)


def test_items_limits() -> None:
    with pytest.raises(TooLarge):
        items_of({"events": [{}] * 1001}, "events", 1000)
    with pytest.raises(BadRequest, match="empty"):
        items_of({"events": []}, "events", 1000)
    with pytest.raises(BadRequest, match="events: expected a list"):
        items_of({"events": {}}, "events", 1000)
    with pytest.raises(BadRequest, match="extra: unknown envelope field"):
        items_of({"events": [{}], "extra": 1}, "events", 1000)
    items, sent_at = items_of({"type": "copy", "sent_at": 5}, "events", 1000)
    assert items == [{"type": "copy"}]
    assert sent_at == 5


def test_an_accepted_event_is_its_model_dumped() -> None:
    """accept_events copies the validated fields instead of model_dump(): the same while EventIn
    has no nested models."""
    generator = Generator(3, run="dump")
    for index in range(300):
        item = generator.event(index)
        model = EventIn.model_validate(item)
        assert dict(model.__dict__) == model.model_dump()


def test_event_ids_in_any_uuid_spelling_come_out_canonical() -> None:
    base = {"type": "abandon", "timestamp": 1_795_000_000_000, "conversation_id": "c"}
    for spelling in (
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "0f8fad5bd9cb469fa16570867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
    ):
        assert EventIn.model_validate({**base, "event_id": spelling}).event_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
